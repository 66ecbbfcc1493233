import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { ArgumentError } from '../../../lib/errors';
import { LlamaForCausalLM } from '../../../lib/model/llama';
import { gradsReleasing, variableGradsReleasing } from '../../../lib/train/grads';

const CONFIG = { vocabSize: 64, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 1, numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 16 };
const IDS = [[5, 9, 17, 33, 2, 8]];

test('variableGradsReleasing: a loss computed outside `f` is one clear error and stays the caller\'s', async () => {
  await ensureBackend();
  const model = LlamaForCausalLM.fromConfig(CONFIG, { seed: 1 });
  model.train();
  const loss = model.forward({ inputIds: IDS, labels: IDS }).loss!; // the mistake the error names: the forward outside f
  tf.dispose(model.forward({ inputIds: IDS }).logits);
  const before = tf.memory().numTensors;
  assert.throws(() => variableGradsReleasing(() => loss, model.trainableParameters()), (e: Error) => e instanceof ArgumentError && /does not depend on any of the variables/.test(e.message));
  assert.equal(loss.isDisposed, false, 'the caller\'s loss is not disposed by the error');
  assert.equal(tf.memory().numTensors, before);
  loss.dispose();
  model.dispose();
});

test('gradsReleasing: `f` returning its input, with a `dy` of the wrong shape, is one clear error and leaves the input alone', async () => {
  await ensureBackend();
  const x = tf.tensor1d([1, 2, 3]);
  const dy = tf.ones([2]);
  const before = tf.memory().numTensors;
  assert.throws(() => gradsReleasing((t: tf.Tensor) => t)([x], dy), (e: Error) => e instanceof ArgumentError && /`dy` has shape \[2\]/.test(e.message));
  assert.equal(x.isDisposed, false, 'the caller\'s x is not disposed by the error');
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, dy]);
});
