import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Module } from '../../../lib/nn/module';
import { Linear } from '../../../lib/nn/linear';

class Block extends Module {
  q_proj = new Linear(4, 3);
  v_proj = new Linear(4, 2, { trainable: false });
}
class Net extends Module {
  layers = [new Block(), new Block()];
  norm_weight = tf.variable(tf.ones([4]));
  cache = tf.zeros([2]);
}

test('module tree names parameters with dotted Hugging Face paths', () => {
  const net = new Net();
  assert.deepEqual(net.namedParameters().map(([n]) => n), [
    'norm_weight', 'layers.0.q_proj.weight', 'layers.0.v_proj.weight', 'layers.1.q_proj.weight', 'layers.1.v_proj.weight',
  ]);
  assert.deepEqual(net.namedBuffers().map(([n]) => n), ['cache']);
  assert.equal(net.trainableParameters().length, 3);
  assert.equal(net.getSubmodule('layers.1.v_proj'), net.layers[1].v_proj);
  net.dispose();
});

test('setSubmodule swaps a module in place and train/eval reach every descendant', () => {
  const net = new Net();
  const replacement = new Linear(4, 3);
  net.setSubmodule('layers.0.q_proj', replacement);
  assert.equal(net.layers[0].q_proj, replacement);
  net.eval();
  assert.ok(net.namedModules().every(([, m]) => !m.training));
  net.dispose();
});

test('Linear maps (..., in) to (..., out) like torch and leaks no tensor', async () => {
  await tf.setBackend('cpu');
  const lin = new Linear(2, 3, { weight: tf.tensor2d([[1, 0], [0, 1], [1, 1]]), bias: tf.tensor1d([0, 0, 1]) });
  const x = tf.tensor3d([[[1, 2]], [[3, 4]]]); // (2, 1, 2)
  const before = tf.memory().numTensors;
  const y = lin.forward(x);
  assert.deepEqual(y.shape, [2, 1, 3]);
  assert.deepEqual(Array.from(await y.data()), [1, 2, 4, 3, 4, 8]);
  y.dispose();
  assert.equal(tf.memory().numTensors, before);
  lin.dispose();
  x.dispose();
});
