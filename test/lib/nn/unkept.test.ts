import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { ArgumentError } from '../../../lib/errors';
import * as unkept from '../../../lib/nn/unkept';
import { recordTape } from '../../../lib/train/engine_tape';

test('unkept.add / unkept.reshape: the values and gradients of tf.add / tf.reshape, one tape node that keeps nothing', async () => {
  await ensureBackend();
  const a = tf.tensor3d([[[0.5, -1], [2, 3]], [[-0.25, 4], [1, 1.5]]]);
  const b = tf.tensor3d([[[1, 2], [-3, 0.5]], [[2, -2], [0.75, 1]]]);
  const dy = tf.tensor2d([[1, -1, 2, 0.5], [3, 0.25, -2, 1]]);
  // The sum feeds a product and a reshape, so each input's gradient is a real one.
  const viaTf = (x: tf.Tensor, y: tf.Tensor) => tf.reshape(tf.mul(tf.add(x, y), x), [2, 4]);
  const viaUnkept = (x: tf.Tensor, y: tf.Tensor) => unkept.reshape(tf.mul(unkept.add(x, y), x), [2, 4]);
  const want = tf.tidy(() => [viaTf(a, b), ...tf.grads(viaTf)([a, b], dy)].map((t) => Array.from(t.dataSync())));
  const got = tf.tidy(() => [viaUnkept(a, b), ...tf.grads(viaUnkept)([a, b], dy)].map((t) => Array.from(t.dataSync())));
  assert.deepEqual(got, want);
  const before = tf.memory().numTensors;
  const { value, tape } = recordTape(() => unkept.reshape(unkept.add(a, b), [-1]));
  assert.deepEqual(value.shape, [8]);
  assert.equal(tape.length, 2);
  assert.deepEqual(tape.map((n) => n.saved ?? []), [[], []], 'nothing kept for the backward pass');
  value.dispose();
  assert.equal(tf.memory().numTensors, before);
  const ids = tf.tensor2d([[1, 2], [3, 4]], undefined, 'int32');
  const flat = unkept.reshape(ids, [4]);
  assert.equal(flat.dtype, 'int32', 'other dtypes pass to tf.reshape');
  assert.throws(() => unkept.add(a as tf.Tensor, tf.ones([2, 2])), (e: Error) => e instanceof ArgumentError && /`a` \[2, 2, 2\] and `b` \[2, 2\] must have the same shape/.test(e.message));
  tf.dispose([a, b, dy, ids, flat]);
});
