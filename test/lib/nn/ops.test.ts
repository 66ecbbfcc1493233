import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend, setBackend } from '../../../lib/backend';
import { ArgumentError } from '../../../lib/errors';
import { rmsNorm, RMSNorm } from '../../../lib/nn/rms_norm';
import { applyRotaryPosEmb, ropeCosSin, ropeHeads, ropeInvFreq } from '../../../lib/nn/rope';
import { buildAttentionMask, scaledDotProductAttention, MASK_VALUE } from '../../../lib/nn/attention';
import { causalLmLoss, crossEntropy } from '../../../lib/nn/cross_entropy';
import { Embedding } from '../../../lib/nn/embedding';

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i])), `index ${i}: ${a[i]} vs ${b[i]}`);
}

test('rmsNorm matches the formula and validates its weight', async () => {
  await ensureBackend();
  const x = tf.tensor2d([[1, 2, 3, 4], [0.5, -1, 0, 2]]);
  const w = tf.tensor1d([1, 0.5, 2, 1]);
  const before = tf.memory().numTensors;
  const y = rmsNorm(x, w, 1e-6);
  const rows = [[1, 2, 3, 4], [0.5, -1, 0, 2]];
  const want = rows.flatMap((r) => {
    const s = 1 / Math.sqrt(r.reduce((a, v) => a + v * v, 0) / 4 + 1e-6);
    return r.map((v, i) => v * s * [1, 0.5, 2, 1][i]);
  });
  close(await y.data(), want);
  y.dispose();
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => rmsNorm(x, tf.tensor1d([1, 2]), 1e-6), (e: unknown) => e instanceof ArgumentError && /`weight` has shape \[2\], expected \[4\]/.test(e.message));
  assert.equal(new RMSNorm(4).weight.shape[0], 4);
  tf.dispose([x, w]);
});

test('RoPE: llama3 scaling keeps high frequencies, divides low ones by factor, blends between; rotate-half layout', async () => {
  await ensureBackend();
  const base = ropeInvFreq({ headDim: 16, theta: 500000 });
  // original context 64: wavelengths below 64/4 keep their frequency, above 64/1 are divided by 8
  const scaled = ropeInvFreq({ headDim: 16, theta: 500000, scaling: { ropeType: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 } });
  const wavelength = Array.from(base).map((f) => (2 * Math.PI) / f);
  assert.ok(wavelength[0] < 16 && wavelength[1] > 16 && wavelength[1] < 64 && wavelength[2] > 64);
  assert.equal(scaled[0], base[0]);
  assert.ok(scaled[1] < base[1] && scaled[1] > base[1] / 8);
  for (let i = 2; i < base.length; i++) assert.ok(Math.abs(scaled[i] - base[i] / 8) < 1e-12);
  assert.ok(Math.abs(ropeInvFreq({ headDim: 16, theta: 1e4, scaling: { ropeType: 'linear', factor: 2 } })[1] - ropeInvFreq({ headDim: 16, theta: 1e4 })[1] / 2) < 1e-9);
  // rotation by angle θ of the pair (x_i, x_{i+D/2}); position 0 is the identity
  const inv = ropeInvFreq({ headDim: 4, theta: 10000 });
  const [cos, sin] = ropeCosSin(inv, [[0, 3]]);
  const x = tf.tensor4d([[[[1, 2, 3, 4], [1, 2, 3, 4]]]]); // (1, 1, 2, 4)
  const y = await applyRotaryPosEmb(x, cos, sin).data();
  close(y.slice(0, 4), [1, 2, 3, 4]);
  const a0 = 3 * inv[0], a1 = 3 * inv[1];
  close(y.slice(4), [1 * Math.cos(a0) - 3 * Math.sin(a0), 2 * Math.cos(a1) - 4 * Math.sin(a1), 3 * Math.cos(a0) + 1 * Math.sin(a0), 4 * Math.cos(a1) + 2 * Math.sin(a1)]);
  tf.dispose([cos, sin, x]);
});

test('ropeHeads splits a projection into heads and rotates them: value and gradient equal the float64 formula', async () => {
  await ensureBackend();
  const [B, T, H, D] = [2, 5, 3, 8];
  const positions = [[0, 1, 2, 3, 4], [7, 8, 9, 10, 11]];
  const [cos, sin] = ropeCosSin(ropeInvFreq({ headDim: D, theta: 10000 }), positions);
  const y = tf.randomNormal([B, T, H * D], 0, 1, 'float32', 31);
  const c = tf.randomNormal([B, H, T, D], 0, 1, 'float32', 32);
  const [ys, cs, cv, sv] = [y.dataSync(), c.dataSync(), cos.dataSync(), sin.dataSync()];
  const before = tf.memory().numTensors;
  const out = ropeHeads(y as tf.Tensor3D, H, cos, sin);
  const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(ropeHeads(t as tf.Tensor3D, H, cos, sin), c)))(y);
  assert.deepEqual(out.shape, [B, H, T, D]);
  const [os, gs] = [out.dataSync(), g.dataSync()];
  let err = 0;
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) for (let d = 0; d < D; d++) {
    const p = d < D / 2 ? d + D / 2 : d - D / 2, sign = d < D / 2 ? -1 : 1;
    const src = ((b * T + t) * H + h) * D, cb = (b * T + t) * D, o = ((b * H + h) * T + t) * D;
    err = Math.max(err, Math.abs(os[o + d] - (ys[src + d] * cv[cb + d] + sign * ys[src + p] * sv[cb + d])));
    err = Math.max(err, Math.abs(gs[src + d] - (cs[o + d] * cv[cb + d] - sign * cs[o + p] * sv[cb + p])));
  }
  assert.ok(err < 1e-5, `max error ${err}`);
  tf.dispose([out, g]);
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  assert.throws(() => ropeHeads(y as tf.Tensor3D, 5, cos, sin), /24 is not a multiple of 5 heads/);
  tf.dispose([cos, sin, y, c]);
});

test('grouped-query attention equals attention with repeated key/value heads; masks are causal and padding-aware', async () => {
  await ensureBackend();
  const B = 2, H = 4, Hkv = 2, T = 3, D = 4;
  const q = tf.randomNormal([B, H, T, D], 0, 1, 'float32', 1) as tf.Tensor4D;
  const k = tf.randomNormal([B, Hkv, T, D], 0, 1, 'float32', 2) as tf.Tensor4D;
  const v = tf.randomNormal([B, Hkv, T, D], 0, 1, 'float32', 3) as tf.Tensor4D;
  const maskRows = [[1, 1, 1], [0, 1, 1]];
  const mask = buildAttentionMask(maskRows, T);
  const m = (await mask.array()) as number[][][][];
  assert.deepEqual(m[0][0].map((r) => r.map((x) => (x === 0 ? 1 : 0))), [[1, 0, 0], [1, 1, 0], [1, 1, 1]]);
  assert.equal(m[1][0][2][0], Math.fround(MASK_VALUE));
  const out = scaledDotProductAttention(q, k, v, mask);
  // reference: repeat each kv head for its group, plain softmax attention
  const ref = tf.tidy(() => {
    const rep = (t: tf.Tensor4D) => tf.reshape(tf.tile(tf.reshape(t, [B, Hkv, 1, T, D]), [1, 1, H / Hkv, 1, 1]), [B, H, T, D]);
    const s = tf.add(tf.div(tf.matMul(q, rep(k), false, true), Math.sqrt(D)), mask);
    return tf.matMul(tf.softmax(s), rep(v));
  });
  close(await out.data(), await ref.data(), 1e-5);
  // the fully padded row of a left-padded batch stays finite
  assert.ok(Array.from(await out.data()).every(Number.isFinite));
  tf.dispose([q, k, v, mask, out, ref]);
});

test('crossEntropy: value and gradient equal log-softmax formulas, -100 ignored, mean over counted rows', async () => {
  await ensureBackend();
  const logits = tf.tensor2d([[1, 2, 0.5], [0.1, -1, 3], [2, 2, 2]]);
  const targets = [1, -100, 0];
  const lse = (r: number[]) => Math.log(r.reduce((a, x) => a + Math.exp(x), 0));
  const want = ((lse([1, 2, 0.5]) - 2) + (lse([2, 2, 2]) - 2)) / 2;
  const before = tf.memory().numTensors;
  const g = tf.valueAndGrad((x: tf.Tensor) => crossEntropy(x as tf.Tensor2D, targets));
  const { value, grad } = g(logits);
  close(await value.data(), [want]);
  const sm = (r: number[]) => r.map((x) => Math.exp(x - lse(r)));
  const gr = [...sm([1, 2, 0.5]).map((p, i) => (p - (i === 1 ? 1 : 0)) / 2), 0, 0, 0, ...sm([2, 2, 2]).map((p, i) => (p - (i === 0 ? 1 : 0)) / 2)];
  close(await grad.data(), gr);
  tf.dispose([value, grad]);
  assert.equal(tf.memory().numTensors, before);
  // causal shift: logits at t are scored against labels[t + 1]
  const l3 = tf.reshape(logits, [1, 3, 3]) as tf.Tensor3D;
  const shifted = causalLmLoss(l3, [[7, 1, -100]]);
  close(await shifted.data(), [lse([1, 2, 0.5]) - 2]);
  assert.throws(() => crossEntropy(logits, [0, 5, 1]), /target 5 at row 1 is outside \[0, 3\)/);
  tf.dispose([logits, l3, shifted]);
});

test('Embedding gradient on wasm (oneHot matmul) equals the cpu backend (UnsortedSegmentSum)', async () => {
  const grads: Float32Array[] = [];
  for (const backend of ['wasm', 'cpu']) {
    await setBackend(backend);
    const emb = new Embedding(5, 3, { weight: tf.tensor2d([[1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 0, 1], [0, 1, 0]]) });
    const ids = tf.tensor2d([[1, 3, 1], [4, 1, 0]], undefined, 'int32');
    const before = tf.memory().numTensors;
    const { value, grads: g } = tf.variableGrads(() => tf.sum(tf.mul(emb.forward(ids), tf.range(0, 18).reshape([2, 3, 3]))) as tf.Scalar);
    grads.push((await g[emb.weight.name].data()) as Float32Array);
    tf.dispose([value, ...Object.values(g)]);
    assert.equal(tf.memory().numTensors, before + 0);
    emb.dispose();
    ids.dispose();
  }
  close(grads[0], grads[1]);
  assert.deepEqual(Array.from(grads[0].slice(0, 3)), [15, 16, 17]); // id 0 once, at (1, 2): dy there is 15, 16, 17
  assert.deepEqual(Array.from(grads[0].slice(3, 6)), [0 + 6 + 12, 1 + 7 + 13, 2 + 8 + 14]); // id 1 at (0,0), (0,2), (1,1)
  await setBackend('wasm');
});
