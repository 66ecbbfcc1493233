import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { backendHasKernels } from '../../../lib/backend/kernel_registry';
import { dropout, FUSED_DROPOUT } from '../../../lib/nn/dropout';
import { ArgumentError } from '../../../lib/errors';

// On every backend (cuda with its device kernel, under scripts/gpu/test-cuda.sh): kept values are
// x / (1 − rate) exactly, the dropped share is near the rate, a seed always gives its mask, the
// gradient uses the forward's mask, nothing leaks. Without the kernel: tf.dropout's own numbers.
test('dropout: x / (1 − rate) or 0, the share dropped near the rate, one mask per seed, the gradient through the same mask; a bad rate is one clear error', async () => {
  await ensureBackend();
  const [rows, cols, rate] = [200, 500, 0.3];
  const x = tf.randomNormal([rows, cols], 0, 1, 'float32', 3);
  const c = tf.randomNormal([rows, cols], 0, 1, 'float32', 4);
  const before = tf.memory().numTensors;
  const xv = x.dataSync(), cv = c.dataSync();
  const scale = Math.fround(1 / (1 - rate));
  const y = dropout(x, rate, 11);
  const yv = y.dataSync();
  let dropped = 0;
  yv.forEach((v, i) => {
    if (v === 0) dropped++;
    else assert.equal(v, Math.fround(xv[i] * scale), `element ${i}`);
  });
  assert.ok(Math.abs(dropped / x.size - rate) < 0.01, `${dropped} of ${x.size} dropped at rate ${rate}`);

  const again = dropout(x, rate, 11), other = dropout(x, rate, 12);
  assert.deepEqual(again.dataSync(), yv);
  const differ = Array.from(other.dataSync()).filter((v, i) => (v === 0) !== (yv[i] === 0)).length;
  assert.ok(differ > 0.3 * x.size, `another seed moves ${differ} of ${x.size} mask entries (expected ≈ 2·0.3·0.7)`);

  const dx = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(dropout(xi, rate, 11), c)))(x);
  dx.dataSync().forEach((v, i) => assert.ok(v === (yv[i] === 0 ? 0 : Math.fround(cv[i] * scale)), `gradient element ${i}: ${v}`)); // ±0 alike

  if (!backendHasKernels(FUSED_DROPOUT)) {
    const theirs = tf.dropout(x, rate, undefined, 11);
    assert.deepEqual(theirs.dataSync(), yv);
    theirs.dispose();
  }
  tf.dispose([y, again, other, dx]);
  assert.equal(tf.memory().numTensors, before);
  for (const bad of [1, -0.1, Number.NaN]) assert.throws(() => dropout(x, bad, 1), (e: Error) => e instanceof ArgumentError && /dropout: `rate` must be in \[0, 1\)/.test(e.message));
  tf.dispose([x, c]);
});
