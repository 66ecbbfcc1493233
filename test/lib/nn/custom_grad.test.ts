import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { customGrad } from '../../../lib/nn/custom_grad';
import { recordTape } from '../../../lib/train/engine_tape';

/** x·x + 1 whose declared gradient is 10·dy (not the true 2x·dy), so the tests see which path ran; counts its gradFunc and save calls. */
function tenfold() {
  const calls = { grad: 0, saved: 0 };
  const op = customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const square = tf.mul(x, x); // an intermediate the op must not leave behind
    save([square]);
    return {
      value: tf.add(square, 1),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        calls.grad++;
        calls.saved = saved.length;
        return tf.mul(dy, 10);
      },
    };
  });
  return { op, calls };
}

test('customGrad: without a gradient pass, the value of tf.customGrad and no tensor left behind; with one, the declared gradient', async () => {
  await ensureBackend();
  const x = tf.tensor1d([0.5, -2, 3]);
  const { op, calls } = tenfold();
  const before = tf.memory().numTensors;
  const y = op(x);
  assert.deepEqual(Array.from(y.dataSync()), [1.25, 5, 10]);
  y.dispose();
  assert.equal(tf.memory().numTensors, before, 'the intermediate is freed, as tf.customGrad frees it');
  assert.equal(calls.grad, 0);

  const dx = tf.grad((t: tf.Tensor) => op(t))(x);
  assert.deepEqual(Array.from(dx.dataSync()), [10, 10, 10], 'tf.grad takes the declared gradient');
  assert.equal(calls.grad, 1);
  assert.equal(calls.saved, 1, 'save keeps its tensors while a gradient is recorded');
  dx.dispose();

  const { value, tape } = recordTape(() => op(x));
  assert.ok(tape.length > 0, 'recorded on the tape');
  tf.dispose([value, ...tape.flatMap((n) => n.saved ?? [])]);
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
});
