import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { ArgumentError } from '../../../lib/errors';
import { LlamaForCausalLM } from '../../../lib/model/llama';
import { LoraConfig } from '../../../lib/lora/config';
import { getPeftModel, type PeftModel } from '../../../lib/lora/peft_model';
import { gradsReleasing, variableGradsReleasing } from '../../../lib/train/grads';
import { peakDataBytes } from '../../../lib/train/engine_tape';

const CONFIG = { vocabSize: 128, hiddenSize: 64, intermediateSize: 160, numHiddenLayers: 3, numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 64 };
const IDS = [[5, 9, 17, 33, 2, 8, 60, 7, 11, 3, 90, 41], [1, 4, 4, 90, 12, 7, 3, 0, 66, 70, 2, 1]];

/** A LoRA model on all seven linears (PEFT API), with lora_B moved off zero so every path has a gradient. */
function loraModel(): PeftModel<LlamaForCausalLM> {
  const base = LlamaForCausalLM.fromConfig(CONFIG, { seed: 11 });
  const peft = getPeftModel(base, new LoraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], taskType: 'CAUSAL_LM' }), { seed: 3, warn: false });
  peft.loraLayers().forEach(([, l], i) => {
    const b = tf.randomNormal(l.loraB.weight.shape, 0, 0.05, 'float32', 100 + i);
    l.loraB.weight.assign(b);
    b.dispose();
  });
  peft.train();
  return peft;
}

type Grads = typeof variableGradsReleasing;

/** One step's loss, gradients by variable name, peak data bytes during it and tensors left after it. */
function step(peft: PeftModel<LlamaForCausalLM>, grads: Grads) {
  const params = peft.trainableParameters();
  const before = tf.memory().numTensors;
  const { result, peakBytes } = peakDataBytes(() => grads(() => peft.forward({ inputIds: IDS, labels: IDS, returnLogits: false }).loss as tf.Scalar, params));
  const loss = result.value.dataSync()[0];
  const values = new Map(Object.entries(result.grads).map(([k, g]) => [k, g.dataSync() as Float32Array]));
  tf.dispose([result.value, ...Object.values(result.grads)]);
  return { loss, values, peak: peakBytes, left: tf.memory().numTensors - before };
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]));
  }
  return diff / Math.max(scale, 1e-30);
}

test('variableGradsReleasing: the loss and LoRA gradients of tf.variableGrads, no tensor left, a lower peak', async () => {
  await ensureBackend();
  const peft = loraModel();
  const ref = step(peft, tf.variableGrads as Grads);
  const got = step(peft, variableGradsReleasing);
  assert.equal(got.loss, ref.loss);
  assert.equal(got.values.size, 42); // 3 layers × 7 linears × (A, B)
  assert.deepEqual([...got.values.keys()].sort(), [...ref.values.keys()].sort());
  let worst = 0;
  for (const [name, g] of ref.values) {
    const d = maxRelDiff(g, got.values.get(name)!);
    worst = Math.max(worst, d);
    assert.ok(d <= 1e-6, `${name}: relative difference ${d}`);
  }
  assert.equal(got.left, 0, 'tensors left by variableGradsReleasing');
  console.log(`peak data bytes over a step: tf.variableGrads ${ref.peak}, variableGradsReleasing ${got.peak} (${(got.peak / ref.peak).toFixed(2)}×); worst relative gradient difference ${worst}`);
  assert.ok(got.peak < ref.peak, `peak ${got.peak} not below ${ref.peak}`);
  peft.dispose();
});

test('variableGradsReleasing with checkpointed layers: the gradients of the plain model, no tensor left', async () => {
  await ensureBackend();
  const peft = loraModel();
  const ref = step(peft, tf.variableGrads as Grads);
  const base = peft.model;
  base.gradientCheckpointingEnable({ layers: 2 });
  const ckpt = step(peft, variableGradsReleasing);
  const ckptTfjs = step(peft, tf.variableGrads as Grads);
  base.gradientCheckpointingDisable();
  assert.ok(Math.abs(ckpt.loss - ref.loss) < 1e-6);
  for (const [name, g] of ref.values) {
    const d = maxRelDiff(g, ckpt.values.get(name)!);
    assert.ok(d <= 1e-5, `${name}: relative difference ${d}`);
    assert.ok(maxRelDiff(ckptTfjs.values.get(name)!, ckpt.values.get(name)!) <= 1e-6, `${name}: checkpointed, tf.variableGrads vs releasing`);
  }
  assert.equal(ckpt.left, 0);
  assert.equal(ckptTfjs.left, 0, 'the recomputed layers put the outer tape back for tf.variableGrads too');
  console.log(`peak data bytes, first 2 of 3 layers checkpointed: tf.variableGrads ${ckptTfjs.peak}, variableGradsReleasing ${ckpt.peak}`);
  assert.ok(ckpt.peak < ckptTfjs.peak);
  peft.dispose();
});

test('gradsReleasing: tf.grads\'s gradients with dy, shared and passed-through gradients, no tensor left', async () => {
  await ensureBackend();
  // An op whose gradient hands the same dy tensor to both inputs, and a tensor used three times.
  const addShared = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [a, b] = args as tf.Tensor[];
    return { value: tf.add(a, b), gradFunc: (dy: tf.Tensor) => [dy, dy] };
  });
  const f = (a: tf.Tensor, b: tf.Tensor) => {
    const s = tf.sigmoid(tf.mul(a, b));
    return tf.mul(addShared(s, tf.square(s)), tf.sin(s));
  };
  const a = tf.tensor2d([[0.3, -1.2, 2], [0.5, 0.1, -0.7]]);
  const b = tf.tensor2d([[1.5, 0.2, -0.4], [2.2, -3, 0.9]]);
  const dy = tf.tensor2d([[1, -2, 0.5], [3, 0.25, -1]]);
  const want = tf.grads(f)([a, b], dy);
  const before = tf.memory().numTensors;
  const got = gradsReleasing(f)([a, b], dy);
  assert.equal(tf.memory().numTensors - before, 2, 'only the two gradients stay');
  for (let i = 0; i < 2; i++) assert.deepEqual(Array.from(got[i].dataSync()), Array.from(want[i].dataSync()));
  assert.equal(dy.isDisposed, false, 'the caller\'s dy is left alone');
  // Inside a recording gradient (second derivative) it defers to tf.grads: d²/dx² Σx³ = 6x.
  const x = tf.tensor1d([1, -2, 0.5]);
  const second = tf.grad((t: tf.Tensor) => tf.sum(gradsReleasing((u: tf.Tensor) => tf.sum(tf.pow(u, 3)))([t])[0]))(x);
  assert.deepEqual(Array.from(second.dataSync()), [6, -12, 3]);
  tf.dispose([a, b, dy, x, second, ...want, ...got]);
});

test('gradsReleasing / variableGradsReleasing: bad input is one clear error, and nothing leaks', async () => {
  await ensureBackend();
  const x = tf.tensor1d([1, 2, 3]);
  const before = tf.memory().numTensors;
  const dy = tf.ones([2]);
  assert.throws(() => gradsReleasing((t: tf.Tensor) => tf.square(t))([x], dy), (e: Error) => e instanceof ArgumentError && /`dy` has shape \[2\], but `f` returned shape \[3\]/.test(e.message));
  assert.throws(() => gradsReleasing(() => tf.scalar(1))([x]), (e: Error) => e instanceof ArgumentError && /does not depend on every tensor of `xs`/.test(e.message));
  assert.throws(() => gradsReleasing((t: tf.Tensor) => tf.square(t))([]), /`xs` must be a non-empty array of tensors/);
  const v = tf.tidy(() => tf.variable(tf.tensor1d([1, 2])));
  const frozen = tf.tidy(() => tf.variable(tf.tensor1d([3]), false));
  assert.throws(() => variableGradsReleasing(() => tf.sum(v) as tf.Scalar, [frozen]), (e: Error) => e instanceof ArgumentError && /none of the 1 variables is trainable/.test(e.message));
  assert.throws(() => variableGradsReleasing(() => tf.sum(tf.mul(v, 2)) as tf.Scalar, ['w' as unknown as tf.Variable]), /`varList` must be an array of tf.Variable/);
  assert.throws(() => variableGradsReleasing(() => tf.mul(v, 2) as unknown as tf.Scalar, [v]), /must return a scalar, but it returned a rank-1 tensor/);
  assert.throws(() => variableGradsReleasing(() => { tf.square(v); throw new Error('boom'); }, [v]), /boom/);
  const { value, grads } = variableGradsReleasing(() => tf.sum(tf.mul(v, frozen)) as tf.Scalar, [v, frozen]);
  assert.deepEqual(Array.from(grads[v.name].dataSync()), [3, 3]);
  assert.equal(grads[frozen.name], null, 'a frozen variable passed in gets null, as tf.variableGrads gives');
  tf.dispose([value, grads[v.name]]);
  assert.equal(tf.memory().numTensors, before + 3, 'only dy and the two variables stay');
  tf.dispose([x, dy, v, frozen]);
});
