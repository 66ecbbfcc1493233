import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { dropout, dropoutHash, dropoutThreshold, dropoutValues } from '../../../lib/nn/dropout';
import { ArgumentError } from '../../../lib/errors';

// On every backend (cuda with its device kernel, under scripts/gpu/test-cuda.sh): the host
// reference's values bit for bit — so every backend draws the same masks — kept values x / (1 −
// rate) exactly, the dropped share near the rate, one mask per seed, the gradient through the
// forward's mask, nothing leaks.
test('dropout: the same values on every backend (x / (1 − rate) or 0), the share dropped near the rate, one mask per seed, the gradient through the same mask; bad arguments are one clear error', async () => {
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

  assert.deepEqual(yv, dropoutValues(xv as Float32Array, rate, 11), 'the host reference, bit for bit');
  yv.forEach((v, i) => assert.equal(v !== 0, dropoutHash(11, i) >>> 8 >= dropoutThreshold(rate), `mask at ${i} is the hash's`));
  // The hash's values for seed 11, pinned (worked out apart, in Python's integers): the cuda
  // kernel computes the same bits, so a change here must change both.
  assert.deepEqual([0, 1, 2, 1000].map((i) => dropoutHash(11, i)), [715815747, 3052078152, 4014432847, 3142782460]);
  tf.dispose([y, again, other, dx]);
  assert.equal(tf.memory().numTensors, before);
  for (const bad of [1, -0.1, Number.NaN]) assert.throws(() => dropout(x, bad, 1), (e: Error) => e instanceof ArgumentError && /dropout: `rate` must be in \[0, 1\)/.test(e.message));
  assert.throws(() => dropout(x, 0.1, 1.5), (e: Error) => e instanceof ArgumentError && /dropout: `seed` must be an integer, got 1\.5/.test(e.message));
  tf.dispose([x, c]);
});
