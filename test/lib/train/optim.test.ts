import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { createDynamicMap } from '../../../lib/quant/codebooks';
import { AdamW } from '../../../lib/train/optim/adamw';
import { AdamW8bit, NearestCode, codesTensor, quantizeNearest, tensorCodes } from '../../../lib/train/optim/adamw_8bit';
import { clipGradNorm } from '../../../lib/train/optim/clip';
import { createOptimizer } from '../../../lib/train/optim';
import { TrainingArguments, type TrainingArgumentsOptions } from '../../../lib/train/training_args';

/** torch.optim.AdamW written out in float64 for one parameter vector. */
function referenceAdamW(p0: number[], grads: number[][], lrs: number[], wd: number, b1 = 0.9, b2 = 0.999, eps = 1e-8): number[] {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, k) => {
    const t = k + 1;
    const lr = lrs[k];
    for (let j = 0; j < p.length; j++) {
      p[j] *= 1 - lr * wd;
      m[j] = b1 * m[j] + (1 - b1) * g[j];
      v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j];
      const denom = Math.sqrt(v[j]) / Math.sqrt(1 - b2 ** t) + eps;
      p[j] -= (lr / (1 - b1 ** t)) * (m[j] / denom);
    }
  });
  return p;
}

const rand = (n: number, seed: number) => Array.from(tf.randomNormal([n], 0, 1, 'float32', seed).dataSync());

test('AdamW matches torch.optim.AdamW (decoupled decay, bias correction) and leaks nothing', async () => {
  await ensureBackend();
  const p0 = rand(40, 1);
  const grads = [2, 3, 4, 5, 6].map((s) => rand(40, s));
  const lrs = [1e-2, 5e-3, 1e-2, 2e-2, 1e-3];
  const p = tf.variable(tf.tensor1d(p0));
  const opt = new AdamW([p], { lr: 1e-2, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.1 });
  const before = tf.memory().numTensors;
  grads.forEach((g, k) => {
    const gt = tf.tensor1d(g);
    opt.step([gt], lrs[k]);
    gt.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
  const want = referenceAdamW(p0, grads, lrs, 0.1);
  const got = Array.from(p.dataSync());
  got.forEach((x, j) => assert.ok(Math.abs(x - want[j]) < 1e-6, `${j}: ${x} vs ${want[j]}`));
  // state round trip: a fresh optimizer continues identically
  const q = tf.variable(p.clone());
  const opt2 = new AdamW([q], opt.options);
  opt2.loadStateDict(await opt.stateDict(), 'test');
  const g = tf.tensor1d(rand(40, 9));
  opt.step([g], 1e-2);
  opt2.step([g], 1e-2);
  assert.deepEqual(Array.from(q.dataSync()), Array.from(p.dataSync()));
  assert.throws(() => opt2.loadStateDict({ tensors: new Map(), meta: { optimizer: 'adamw_8bit' } }, 'ckpt/optimizer.safetensors'), /ckpt\/optimizer.safetensors: optimizer state is "adamw_8bit", but this run uses 'adamw_torch'/);
  tf.dispose([g, p, q]);
  opt.dispose();
  opt2.dispose();
});

test('8-bit AdamW: bitsandbytes\' unsigned map, blockwise states that track AdamW, 32-bit states below min_8bit_size', async () => {
  await ensureBackend();
  const map2 = createDynamicMap(false);
  assert.equal(map2.length, 256);
  assert.equal(map2[0], 0);
  assert.equal(map2[255], 1);
  assert.ok(map2.every((x, i) => i === 0 || x > map2[i - 1]));
  assert.equal(quantizeNearest(map2, 0.99999), 255);
  assert.equal(quantizeNearest(createDynamicMap(true), -1), 0);
  // the bucketed lookup the optimizer uses gives the plain search's code everywhere
  for (const map of [createDynamicMap(true), map2]) {
    const fast = new NearestCode(map);
    const xs = [...rand(20000, 5).map((x) => Math.tanh(x)), ...rand(2000, 6).map((x) => x * 1e-4), ...map, ...Array.from(map).slice(1).map((m, i) => (m + map[i]) / 2), -1, 0, 1];
    for (const x of xs) if (x >= map[0] && x <= 1) assert.equal(fast.find(x), quantizeNearest(map, x), `x = ${x}`);
  }

  const n = 1000; // 4 blocks of 256, the last one partial
  const p0 = rand(n, 11);
  const grads = Array.from({ length: 8 }, (_, k) => rand(n, 20 + k));
  const lrs = grads.map(() => 1e-3);
  const p = tf.variable(tf.tensor1d(p0));
  const small = tf.variable(tf.tensor1d(p0.slice(0, 30)));
  const opt = new AdamW8bit([p, small], { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, min8bitSize: 100 });
  const initial = tf.memory().numTensors;
  let afterFirst = 0;
  for (const g of grads) {
    const gs = [tf.tensor1d(g), tf.tensor1d(g.slice(0, 30))];
    opt.step(gs, 1e-3);
    tf.dispose(gs);
    // The device form (cuda) makes its state tensors at the first step; none more after that.
    if (afterFirst === 0) afterFirst = tf.memory().numTensors;
  }
  assert.equal(tf.memory().numTensors, afterFirst, 'steps after the first make no tensors');
  const want = referenceAdamW(p0, grads, lrs, 0.01);
  const moved = want.map((w, j) => w - p0[j]);
  const err = Array.from(p.dataSync()).map((x, j) => x - p0[j] - moved[j]);
  const rel = Math.sqrt(err.reduce((s, e) => s + e * e, 0) / moved.reduce((s, e) => s + e * e, 0));
  assert.ok(rel < 0.05, `8-bit update deviates from AdamW by ${rel}`);
  assert.ok(rel > 0, 'the 8-bit states must actually be quantized');
  Array.from(small.dataSync()).forEach((x, j) => assert.ok(Math.abs(x - want[j]) < 1e-6, `32-bit state ${j}`));
  assert.equal(opt.stateBytes(), 2 * n + 2 * 4 * 4 + 2 * 4 * 30);
  const state = await opt.stateDict();
  assert.equal(state.tensors.get('state.0.state1')!.dtype, 'U8');
  assert.deepEqual(state.tensors.get('state.0.absmax1')!.shape, [4]);
  assert.equal(state.tensors.get('state.1.state1')!.dtype, 'F32');
  const [q, qs] = tf.tidy(() => [tf.variable(p.clone()), tf.variable(small.clone())]);
  const opt2 = new AdamW8bit([q, qs], opt.options);
  opt2.loadStateDict(state, 'test');
  const gs = [tf.tensor1d(rand(n, 99)), tf.tensor1d(rand(30, 98))];
  opt.step(gs, 1e-3);
  opt2.step(gs, 1e-3);
  assert.deepEqual(Array.from(q.dataSync()), Array.from(p.dataSync()));
  tf.dispose([...gs, p, q, small, qs]);
  const beforeDispose = tf.memory().numTensors;
  opt.dispose();
  opt2.dispose();
  const owned = afterFirst - initial; // state tensors of one optimizer: 0 for the host form
  assert.equal(tf.memory().numTensors, beforeDispose - 2 * owned, 'dispose frees the optimizers\' state');
});

test('8-bit codes packed four to an int32 word (the device form\'s storage) come back bit for bit, NaN-shaped bytes included', async () => {
  await ensureBackend();
  const before = tf.memory().numTensors;
  // 267 codes: every byte value, two words whose bytes read as float32 would be a quiet and a signalling NaN, a partial last word.
  const codes = Uint8Array.from([...Array.from({ length: 256 }, (_, i) => i), 0xff, 0xff, 0xff, 0x7f, 0x01, 0x00, 0x80, 0x7f, 0x00, 0x80, 0xff]);
  const words = codesTensor(codes);
  assert.equal(words.dtype, 'int32');
  assert.deepEqual(words.shape, [67]);
  assert.deepEqual(tensorCodes(words, codes.length), codes);
  assert.equal(tensorCodes(words, 268)[267], 0, 'the last word is padded with zero bytes');
  words.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('clipGradNorm returns the global norm and scales by max_norm / (norm + 1e-6) only above it', async () => {
  await ensureBackend();
  const a = tf.tensor1d([3, 0]);
  const b = tf.tensor1d([0, 4]);
  const kept = clipGradNorm([a, b], 10);
  assert.ok(Math.abs(kept.norm - 5) < 1e-6);
  assert.equal(kept.grads[0], a);
  const clipped = clipGradNorm([a, b], 1);
  assert.ok(Math.abs(clipped.norm - 5) < 1e-6);
  assert.ok(Math.abs(clipped.grads[1].dataSync()[1] - 4 / (5 + 1e-6)) < 1e-6);
  tf.dispose([a, b, ...clipped.grads]);
});

test('createOptimizer: transformers\' optim names pick 32-bit or 8-bit AdamW; biases and norms get no weight decay', async () => {
  await ensureBackend();
  const w = tf.variable(tf.ones([2]));
  const named: Array<[string, tf.Variable]> = [['model.layers.0.mlp.up_proj.weight', w], ['model.norm.weight', w], ['lm_head.bias', w]];
  const pick = (optim: TrainingArgumentsOptions['optim']) => createOptimizer(new TrainingArguments({ outputDir: 'o', optim, weightDecay: 0.1 }), named);
  for (const name of ['adamw_torch', 'adamw_torch_fused', 'paged_adamw_32bit'] as const) assert.ok(pick(name) instanceof AdamW, name);
  for (const name of ['adamw_8bit', 'adamw_bnb_8bit', 'paged_adamw_8bit'] as const) assert.ok(pick(name) instanceof AdamW8bit, name);
  assert.deepEqual((pick('adamw_torch') as AdamW).options.decay, [true, false, false]);
  w.dispose();
});
