import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { ArgumentError, ConfigError } from '../../../lib/errors';
import { LlamaForCausalLM } from '../../../lib/model/llama';
import { LoraConfig } from '../../../lib/lora/config';
import { getPeftModel } from '../../../lib/lora/peft_model';
import { prepareModelForKbitTraining } from '../../../lib/quant/prepare';
import { Trainer } from '../../../lib/train/trainer';
import { TrainingArguments } from '../../../lib/train/training_args';
import { tempDir } from '../../tmp';

const FOUR = { vocabSize: 96, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 4, numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 64 };
const IDS = [[5, 9, 17, 33, 2, 8, 60], [1, 4, 4, 90, 12, 7, 3]];

/** Loss, gradients by parameter name, and the bytes alive when the forward pass ends (what backward keeps). */
async function step(model: LlamaForCausalLM) {
  let kept = 0;
  const { value, grads } = tf.variableGrads(() => {
    const loss = model.forward({ inputIds: IDS, labels: IDS }).loss!;
    kept = tf.memory().numBytes;
    return loss;
  });
  const out = { loss: (await value.data())[0], kept, grads: new Map<string, Float32Array>() };
  for (const [name, v] of model.namedParameters()) if (grads[v.name]) out.grads.set(name, (await grads[v.name].data()) as Float32Array);
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

test('checkpointing the first n layers: same loss and gradients, bytes kept for backward between none and all', async () => {
  await ensureBackend();
  const model = LlamaForCausalLM.fromConfig(FOUR, { seed: 7 });
  const plain = await step(model);
  model.gradientCheckpointingEnable({ layers: 2 });
  assert.equal(model.gradientCheckpointingLayers, 2);
  assert.equal(model.isGradientCheckpointing, true);
  const half = await step(model);
  model.gradientCheckpointingEnable();
  assert.equal(model.gradientCheckpointingLayers, 4);
  const all = await step(model);
  for (const other of [half, all]) {
    assert.ok(Math.abs(plain.loss - other.loss) < 1e-6);
    for (const [name, a] of plain.grads) {
      const b = other.grads.get(name)!;
      const err = Math.max(...a.map((x, i) => Math.abs(x - b[i]))) / Math.max(...a.map(Math.abs));
      assert.ok(err < 1e-5, `${name}: relative difference ${err}`);
    }
  }
  assert.ok(all.kept < half.kept && half.kept < plain.kept, `bytes kept: all ${all.kept}, first 2 of 4 ${half.kept}, none ${plain.kept}`);
  model.gradientCheckpointingEnable({ layers: 0 });
  assert.equal(model.isGradientCheckpointing, false);
  model.dispose();
});

test('gradient_checkpointing_kwargs: a layer count outside the model or an unknown key is one clear error', async () => {
  await ensureBackend();
  const model = LlamaForCausalLM.fromConfig(FOUR, { seed: 7 });
  assert.throws(() => model.gradientCheckpointingEnable({ layers: 5 }), (e: Error) => e instanceof ArgumentError && /`gradient_checkpointing_kwargs.layers` is 5; the model has 4 decoder layers/.test(e.message));
  assert.throws(() => model.gradientCheckpointingEnable({ layers: 1.5 }), /`gradient_checkpointing_kwargs.layers` is 1.5/);
  assert.equal(model.isGradientCheckpointing, false, 'a refused call changes nothing');
  assert.throws(() => new TrainingArguments({ outputDir: 'x', gradientCheckpointingKwargs: { layer: 2 } as never }), (e: Error) => e instanceof ConfigError && /`gradient_checkpointing_kwargs`/.test(e.message));
  assert.throws(() => prepareModelForKbitTraining(model, { gradientCheckpointingKwargs: { layers: 9 } }), /gradient_checkpointing_kwargs.layers/);
  model.dispose();
});

test('TrainingArguments and prepareModelForKbitTraining pass gradient_checkpointing_kwargs to the model', async () => {
  await ensureBackend();
  const args = new TrainingArguments({ outputDir: tempDir('partial-ckpt'), maxSteps: 1, gradientCheckpointing: true, gradientCheckpointingKwargs: { layers: 3 }, disableTqdm: true });
  assert.deepEqual(args.toJSON().gradient_checkpointing_kwargs, { layers: 3 });
  assert.deepEqual(TrainingArguments.fromJSON(args.toJSON()).gradientCheckpointingKwargs, { layers: 3 });
  const base = LlamaForCausalLM.fromConfig(FOUR, { seed: 3 });
  prepareModelForKbitTraining(base, { gradientCheckpointingKwargs: { layers: 1 } });
  assert.equal(base.gradientCheckpointingLayers, 1);
  const peft = getPeftModel(base, new LoraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'], taskType: 'CAUSAL_LM' }), { seed: 5, warn: false });
  const trainer = new Trainer({ model: peft, args, trainDataset: [{ input_ids: [3, 5, 7, 9, 11] }, { input_ids: [2, 4, 6, 8] }] });
  await trainer.train();
  assert.equal(base.gradientCheckpointingLayers, 3);
  assert.ok(Number.isFinite(trainer.state.logHistory.at(-1)?.train_loss as number));
  peft.dispose();
});

test("transformers' gradient_checkpointing_kwargs={'use_reentrant': False} is accepted and changes nothing", async () => {
  await ensureBackend();
  const args = TrainingArguments.fromJSON({ output_dir: 'x', gradient_checkpointing: true, gradient_checkpointing_kwargs: { use_reentrant: false } });
  assert.deepEqual(args.gradientCheckpointingKwargs, { use_reentrant: false });
  assert.deepEqual(new TrainingArguments({ outputDir: 'x', gradientCheckpointingKwargs: { layers: 2, useReentrant: false } }).gradientCheckpointingKwargs, { layers: 2, useReentrant: false });
  assert.throws(() => new TrainingArguments({ outputDir: 'x', gradientCheckpointingKwargs: { use_reentrant: 'no' } as never }), /`gradient_checkpointing_kwargs.use_reentrant`/);
  const model = LlamaForCausalLM.fromConfig(FOUR, { seed: 7 });
  model.gradientCheckpointingEnable({ use_reentrant: false });
  assert.equal(model.gradientCheckpointingLayers, 4, 'every layer, as without the flag');
  model.dispose();
});
