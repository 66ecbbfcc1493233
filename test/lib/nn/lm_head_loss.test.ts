import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { ArgumentError } from '../../../lib/errors';
import { LlamaForCausalLM } from '../../../lib/model/llama';
import { Linear } from '../../../lib/nn/linear';
import { linearCrossEntropy } from '../../../lib/nn/lm_head_loss';

const TINY = { vocabSize: 96, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 64, tieWordEmbeddings: false };
const IDS = [[5, 9, 17, 33, 2, 8, 60], [1, 4, 4, 90, 12, 7, 3]];
const LABELS = [[5, 9, 17, 33, -100, -100, -100], [1, 4, 4, 90, 12, 7, 3]];

function relL2(a: Float32Array, b: Float32Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { num += (a[i] - b[i]) ** 2; den += b[i] ** 2; }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

/** Loss and gradients of every trainable parameter, through the logits or straight from the hidden states. */
function step(model: LlamaForCausalLM, returnLogits: boolean): { loss: number; grads: Map<string, Float32Array>; logits: boolean } {
  let logits = false;
  const { value, grads } = tf.variableGrads(() => {
    const out = model.forward({ inputIds: IDS, labels: LABELS, returnLogits });
    logits = out.logits !== undefined;
    return out.loss!;
  });
  const names = new Map(model.namedParameters().map(([n, p]) => [p.name, n]));
  const out = new Map<string, Float32Array>();
  for (const [k, g] of Object.entries(grads)) out.set(names.get(k)!, g.dataSync() as Float32Array);
  const loss = value.dataSync()[0];
  tf.dispose([value, ...Object.values(grads)]);
  return { loss, grads: out, logits };
}

test('returnLogits: false gives the loss and gradients of the logits path without returning logits (frozen lm_head: the fused op where the backend has it)', async () => {
  await ensureBackend();
  const model = LlamaForCausalLM.fromConfig(TINY, { seed: 4 });
  (model.lm_head as Linear).weight.trainable = false;
  const before = tf.memory().numTensors;
  const fused = step(model, false);
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  const plain = step(model, true);
  assert.equal(fused.logits, false);
  assert.equal(plain.logits, true);
  assert.ok(Math.abs(fused.loss - plain.loss) < 1e-5 * plain.loss, `loss ${fused.loss} vs ${plain.loss}`);
  assert.equal(fused.grads.size, plain.grads.size);
  assert.ok(!fused.grads.has('lm_head.weight'));
  for (const [name, g] of plain.grads) assert.ok(relL2(fused.grads.get(name)!, g) < 1e-4, `${name}: relative L2 ${relL2(fused.grads.get(name)!, g)}`);
  // Without a tape (evaluation) the loss is the same.
  const evalLoss = tf.tidy(() => model.forward({ inputIds: IDS, labels: LABELS, returnLogits: false }).loss!.dataSync()[0]);
  assert.ok(Math.abs(evalLoss - plain.loss) < 1e-5 * plain.loss);
  model.dispose();
});

test('returnLogits: false with a trainable lm_head still trains it (the composite form), and with tied embeddings', async () => {
  await ensureBackend();
  for (const tie of [false, true]) {
    const model = LlamaForCausalLM.fromConfig({ ...TINY, tieWordEmbeddings: tie }, { seed: 5 });
    const fused = step(model, false);
    const plain = step(model, true);
    assert.ok(fused.grads.has('lm_head.weight'), 'the head (tied: the same variable as the embedding) gets its gradient');
    assert.equal(fused.grads.size, plain.grads.size);
    for (const [name, g] of plain.grads) assert.ok(relL2(fused.grads.get(name)!, g) < 1e-4, `tie ${tie} ${name}`);
    model.dispose();
  }
});

test('linearCrossEntropy names the argument whose shape does not fit', async () => {
  await ensureBackend();
  const h = tf.zeros([3, 8]) as tf.Tensor2D;
  const w = tf.zeros([10, 4]) as tf.Tensor2D;
  assert.throws(() => linearCrossEntropy(h, w, [1, 2, 3]), (e: Error) => e instanceof ArgumentError && /`weight` has shape \[10,4\]/.test(e.message));
  const w2 = tf.zeros([10, 8]) as tf.Tensor2D;
  assert.throws(() => linearCrossEntropy(h, w2, [1, 2]), (e: Error) => e instanceof ArgumentError && /2 targets for 3 rows/.test(e.message));
  tf.dispose([h, w, w2]);
});
