import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { Linear, type LinearLike } from '../../../lib/nn/linear';
import { Linear4bit } from '../../../lib/quant/linear4bit';
import { LoraLinear } from '../../../lib/lora/layer';

const OPTIONS = { r: 4, loraAlpha: 8, loraDropout: 0, useRslora: false, initLoraWeights: true as const, seed: 3 };

/** y and the gradients of Σ y·c with respect to x, lora_A and lora_B. */
function run(layer: LoraLinear, x: tf.Tensor, c: tf.Tensor): { y: Float32Array; dx: Float32Array; dA: Float32Array; dB: Float32Array } {
  const xv = tf.variable(x, true);
  const out = tf.tidy(() => {
    const y = layer.forward(x);
    const vars = [xv, layer.loraA.weight, layer.loraB.weight];
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.forward(xv), c)) as tf.Scalar, vars);
    value.dispose();
    const [dx, dA, dB] = vars.map((v) => grads[v.name].dataSync() as Float32Array);
    return { y: y.dataSync() as Float32Array, dx, dA, dB };
  });
  xv.dispose();
  return out;
}

function close(a: Float32Array, b: Float32Array, what: string): void {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { num += (a[i] - b[i]) ** 2; den += b[i] ** 2; }
  assert.ok(Math.sqrt(num / Math.max(den, 1e-30)) < 1e-5, `${what}: relative L2 ${Math.sqrt(num / den)}`);
}

/** Two LoRA layers with the same weights: one over a frozen base (the fused op), one over a trainable copy (tf ops with autodiff). */
function pair(base: (trainable: boolean) => LinearLike, options = OPTIONS): [LoraLinear, LoraLinear] {
  const fused = new LoraLinear(base(false), options);
  const plain = new LoraLinear(base(true), options);
  for (const l of [fused, plain]) l.loraB.weight.assign(tf.randomNormal([6, 4], 0, 0.5, 'float32', 9));
  plain.loraA.weight.assign(fused.loraA.weight);
  return [fused, plain];
}

test('LoRA over a frozen base runs as one op whose output and gradients (x, lora_A, lora_B) equal the tf-op form', async () => {
  await ensureBackend();
  const w = tf.randomNormal([6, 10], 0, 0.3, 'float32', 1);
  const x = tf.randomNormal([2, 3, 10], 0, 1, 'float32', 2); // (B, T, in)
  const c = tf.randomNormal([2, 3, 6], 0, 1, 'float32', 4);
  const [fused, plain] = pair((trainable) => new Linear(10, 6, { weight: w, trainable }));
  assert.equal(fused.base_layer instanceof Linear && (fused.base_layer as Linear).isFrozen(), true);
  const before = tf.memory().numTensors;
  const got = run(fused, x, c);
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  const want = run(plain, x, c);
  close(got.y, want.y, 'y');
  close(got.dx, want.dx, 'dx');
  close(got.dA, want.dA, 'd lora_A');
  close(got.dB, want.dB, 'd lora_B');
  // The tape holds one node for the fused layer, against a chain of ops for the tf-op form.
  const nodes = (layer: LoraLinear) => {
    const engine = tf.engine() as unknown as { state: { activeTape: unknown[] } };
    let n = 0;
    tf.grads((xi: tf.Tensor) => { const y = tf.sum(layer.forward(xi)); n = engine.state.activeTape.length; return y; })([x]).forEach((g) => g.dispose());
    return n;
  };
  const [nf, np] = [nodes(fused), nodes(plain)];
  assert.ok(nf * 4 < np, `fused ${nf} tape nodes, tf ops ${np}`);
  tf.dispose([w, x, c]);
  fused.dispose();
  plain.dispose();
});

test('LoRA dropout inside the fused op: the masks, output and gradients of the tf-op form (dropout, A, B, the sum), call after call', async () => {
  await ensureBackend();
  const w = tf.randomNormal([6, 10], 0, 0.3, 'float32', 1);
  const x = tf.randomNormal([2, 3, 10], 0, 1, 'float32', 2);
  const c = tf.randomNormal([2, 3, 6], 0, 1, 'float32', 4);
  const [fused, plain] = pair((trainable) => new Linear(10, 6, { weight: w, trainable }), { ...OPTIONS, loraDropout: 0.4 });
  const before = tf.memory().numTensors;
  for (let call = 0; call < 2; call++) { // each forward draws the next mask, in both forms alike
    const got = run(fused, x, c);
    assert.equal(tf.memory().numTensors, before, 'no tensors leak');
    const want = run(plain, x, c);
    close(got.y, want.y, `y, call ${call}`);
    close(got.dx, want.dx, `dx, call ${call}`);
    close(got.dA, want.dA, `d lora_A, call ${call}`);
    close(got.dB, want.dB, `d lora_B, call ${call}`);
  }
  assert.equal(fused.getRngState(), 4, 'two forwards a run, two runs');
  assert.equal(plain.getRngState(), 4);
  fused.eval();
  plain.eval();
  close(run(fused, x, c).y, run(plain, x, c).y, 'y in evaluation (no dropout)');
  tf.dispose([w, x, c]);
  fused.dispose();
  plain.dispose();
});

test('LoRA over a 4-bit base: the fused op takes the 4-bit input gradient and matches the tf-op form', async () => {
  await ensureBackend();
  const w = tf.randomNormal([8, 64], 0, 0.3, 'float32', 5);
  const x = tf.randomNormal([5, 64], 0, 1, 'float32', 6);
  const c = tf.randomNormal([5, 8], 0, 1, 'float32', 7);
  const q = Linear4bit.fromLinearWeight(w, { quantType: 'nf4', blocksize: 64 });
  const fused = new LoraLinear(q, OPTIONS);
  fused.loraB.weight.assign(tf.randomNormal([8, 4], 0, 0.5, 'float32', 9) as tf.Tensor2D);
  // The reference: a trainable float Linear holding the dequantized weight.
  const deq = q.dequantize();
  const plain = new LoraLinear(new Linear(64, 8, { weight: deq, trainable: true }), OPTIONS);
  plain.loraA.weight.assign(fused.loraA.weight);
  plain.loraB.weight.assign(fused.loraB.weight);
  const got = run(fused, x, c);
  const want = run(plain, x, c);
  close(got.y, want.y, 'y');
  close(got.dx, want.dx, 'dx');
  close(got.dA, want.dA, 'd lora_A');
  close(got.dB, want.dB, 'd lora_B');
  tf.dispose([w, x, c, deq]);
  fused.dispose();
  plain.dispose();
});
