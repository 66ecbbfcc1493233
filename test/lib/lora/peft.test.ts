import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { LlamaForCausalLM } from '../../../lib/model/llama';
import { loadRaw } from '../../../lib/model/safetensors';
import { Linear } from '../../../lib/nn/linear';
import { LoraConfig } from '../../../lib/lora/config';
import { LoraLinear } from '../../../lib/lora/layer';
import { PeftModel, getPeftModel } from '../../../lib/lora/peft_model';
import { Linear4bit } from '../../../lib/quant/linear4bit';
import { BitsAndBytesConfig } from '../../../lib/quant/bnb_config';
import { dequantize4bitValues, quantize4bit } from '../../../lib/quant/quant_state';

const TINY = { vocabSize: 64, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 8, initializerRange: 0.2 };
const IDS = [[1, 5, 9, 13, 2, 7], [3, 3, 8, 60, 0, 1]];
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
const logits = (m: { forward(a: { inputIds: number[][] }): { logits: tf.Tensor } }) => m.forward({ inputIds: IDS }).logits;
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-peft-'));
const walkthrough = () => new LoraConfig({ r: 4, loraAlpha: 8, loraDropout: 0.05, targetModules: ['q_proj', 'k_proj', 'v_proj', 'dense'], bias: 'none', taskType: 'CAUSAL_LM' });

/** Gives every lora_B nonzero values so the adapter changes the output. */
function perturb(peft: PeftModel, seed = 1): void {
  peft.loraLayers().forEach(([, l], i) => {
    const b = tf.randomNormal(l.loraB.weight.shape, 0, 0.3, 'float32', seed + i);
    l.loraB.weight.assign(b);
    b.dispose();
  });
}

test('LoraConfig validates like PEFT and writes adapter_config.json fields in snake_case', () => {
  assert.throws(() => new LoraConfig({ r: 0 }), /`r` should be a positive integer value but the value passed is 0/);
  assert.throws(() => new LoraConfig({ bias: 'some' as 'none' }), /`bias` should be one of 'none', 'all', 'lora_only' but the value passed is "some"/);
  assert.throws(() => new LoraConfig({ loraDropout: 1.5 }), /`lora_dropout` should be in \[0, 1\) but the value passed is 1.5/);
  assert.throws(() => new LoraConfig({ targetModules: 'q_proj|v_proj', layersToTransform: [0] }), /`layers_to_transform` cannot be used when `target_modules` is a str/);
  assert.throws(() => new LoraConfig({ initLoraWeights: 'pissa' as 'gaussian' }), /`init_lora_weights` should be true, false or 'gaussian' but the value passed is "pissa"/);
  const c = new LoraConfig({ r: 32, loraAlpha: 32, loraDropout: 0.05, targetModules: ['q_proj', 'k_proj', 'v_proj'], taskType: 'CAUSAL_LM' });
  const json = c.toJSON();
  assert.equal(json.peft_type, 'LORA');
  assert.equal(json.lora_alpha, 32);
  assert.deepEqual(Object.keys(json), [...Object.keys(json)].sort());
  assert.deepEqual(LoraConfig.fromJSON(JSON.parse(JSON.stringify(json))).toJSON(), json);
  assert.equal(new LoraConfig({ r: 16, loraAlpha: 32, useRslora: true }).scaling, 8);
  assert.throws(() => LoraConfig.fromJSON({ ...json, use_dora: true }), /adapter_config\.json: `use_dora` is true, which qlora-ts does not support/);
  assert.throws(() => LoraConfig.fromJSON({ ...json, target_parameters: ['experts'] }), /`target_parameters` is \["experts"\]/);
});

test('getPeftModel wraps q/k/v, warns about the walkthrough\'s `dense`, freezes the rest, starts as the base model', async () => {
  await ensureBackend();
  const base = LlamaForCausalLM.fromConfig(TINY, { seed: 3 });
  const before = logits(base);
  const peft = getPeftModel(base, walkthrough(), { warn: false });
  assert.deepEqual(peft.warnings, ['Target module `dense` matches no module of the model and is skipped (PEFT skips it silently).']);
  assert.equal(peft.loraLayers().length, 6);
  const trainable = peft.namedParameters().filter(([, p]) => p.trainable).map(([n]) => n);
  assert.equal(trainable.length, 12);
  assert.equal(trainable[0], 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight');
  // q: 4·32 + 32·4, k and v: 4·32 + 16·4 per layer
  const [t, all] = peft.getNbTrainableParameters();
  assert.equal(t, 2 * (256 + 192 + 192));
  assert.equal(all, base.numParameters()); // the base model now holds the adapters
  const q = base.getSubmodule('model.layers.1.self_attn.q_proj') as LoraLinear;
  assert.deepEqual(q.loraA.weight.shape, [4, 32]);
  assert.deepEqual(q.loraB.weight.shape, [32, 4]);
  assert.equal(q.scaling, 2);
  const bound = 1 / Math.sqrt(32);
  assert.ok((q.loraA.weight.dataSync() as Float32Array).every((v) => Math.abs(v) <= bound));
  assert.ok((q.loraB.weight.dataSync() as Float32Array).every((v) => v === 0));
  peft.eval();
  const after = logits(peft);
  assert.equal(maxDiff(before, after), 0);
  tf.dispose([before, after]);
  peft.dispose();
});

test('target matching: nothing matching is an error naming the linears; all-linear skips lm_head; regex and layersToTransform', async () => {
  await ensureBackend();
  const mk = () => LlamaForCausalLM.fromConfig(TINY, { seed: 3 });
  const m1 = mk();
  assert.throws(() => getPeftModel(m1, new LoraConfig({ targetModules: ['dense', 'fc1'] }), { warn: false }),
    /Target modules \["dense", "fc1"\] not found in the base model\. Please check the target modules and try again\.\nHint: The model's linear layers are named \["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head"\]/);
  assert.throws(() => getPeftModel(m1, new LoraConfig({ targetModules: ['mlp'] }), { warn: false }), /Target module `model\.layers\.0\.mlp` \(LlamaMLP\) is not supported/);
  m1.dispose();
  const m2 = mk();
  const all = getPeftModel(m2, new LoraConfig({ targetModules: 'all-linear' }));
  assert.equal(all.loraLayers().length, 14);
  assert.ok(!all.loraLayers().some(([n]) => n === 'lm_head'));
  all.dispose();
  const m3 = mk();
  const rx = getPeftModel(m3, new LoraConfig({ targetModules: '.*\\.1\\.self_attn\\.(q|v)_proj' }));
  assert.deepEqual(rx.loraLayers().map(([n]) => n), ['model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.v_proj']);
  rx.dispose();
  const m4 = mk();
  const layer0 = getPeftModel(m4, new LoraConfig({ targetModules: ['down_proj'], layersToTransform: 0 }));
  assert.deepEqual(layer0.loraLayers().map(([n]) => n), ['model.layers.0.mlp.down_proj']);
  layer0.dispose();
  const m5 = mk();
  const excl = getPeftModel(m5, new LoraConfig({ targetModules: ['q_proj', 'v_proj'], excludeModules: ['layers.0.self_attn.v_proj'] }));
  assert.deepEqual(excl.loraLayers().map(([n]) => n), ['model.layers.0.self_attn.q_proj', 'model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.v_proj']);
  excl.dispose();
});

test('save → load round trip: files in PEFT format, same logits, adapter_config.json equal, tf.memory flat', async () => {
  await ensureBackend();
  const dir = tmp();
  const peft = getPeftModel(LlamaForCausalLM.fromConfig(TINY, { seed: 3 }), walkthrough(), { warn: false });
  perturb(peft);
  peft.eval();
  const ref = logits(peft);
  await peft.savePretrained(dir);
  const { tensors, metadata } = loadRaw(path.join(dir, 'adapter_model.safetensors'));
  assert.equal(metadata.format, 'pt');
  assert.ok(tensors.has('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'));
  assert.equal(tensors.size, 12);
  assert.ok([...tensors.values()].every((t) => t.dtype === 'F32'));
  const saved = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
  assert.equal(saved.r, 4);
  assert.deepEqual(saved.target_modules, ['q_proj', 'k_proj', 'v_proj', 'dense']);
  const countBefore = tf.memory().numTensors;
  const base2 = LlamaForCausalLM.fromConfig(TINY, { seed: 3 });
  const loaded = await PeftModel.fromPretrained(base2, dir, { warn: false });
  assert.equal(loaded.training, false);
  assert.equal(loaded.namedParameters().filter(([, p]) => p.trainable).length, 0);
  const out = logits(loaded);
  assert.equal(maxDiff(ref, out), 0);
  out.dispose();
  loaded.dispose();
  assert.equal(tf.memory().numTensors, countBefore);
  const trainableAgain = await PeftModel.fromPretrained(LlamaForCausalLM.fromConfig(TINY, { seed: 3 }), dir, { isTrainable: true, warn: false });
  assert.equal(trainableAgain.trainableParameters().length, 12);
  trainableAgain.dispose();
  ref.dispose();
  peft.dispose();
  // a wrong rank names the tensor and both shapes
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({ ...cfg, r: 8 }));
  const base3 = LlamaForCausalLM.fromConfig(TINY, { seed: 3 });
  await assert.rejects(PeftModel.fromPretrained(base3, dir, { warn: false }), /tensor 'base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight' has shape \[4, 32\], but the model expects \[8, 32\]/);
  base3.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('withAdapterDisabled runs the base model; mergeAndUnload equals the unmerged forward', async () => {
  await ensureBackend();
  const plain = LlamaForCausalLM.fromConfig(TINY, { seed: 3 });
  const base = logits(plain);
  plain.dispose();
  const peft = getPeftModel(LlamaForCausalLM.fromConfig(TINY, { seed: 3 }), walkthrough(), { warn: false });
  perturb(peft);
  peft.eval();
  const tuned = logits(peft);
  const disabled = await peft.withAdapterDisabled(() => logits(peft));
  assert.equal(maxDiff(base, disabled), 0);
  assert.ok(maxDiff(base, tuned) > 1e-3);
  const again = logits(peft);
  assert.equal(maxDiff(tuned, again), 0);
  // generate() passes through with the adapters (KV cache path included) and equals the merged model's
  const prompt = { inputIds: [[1, 5, 9]], maxNewTokens: 6, eosTokenId: 63 };
  const withAdapter: number[][] = await peft.generate(prompt);
  const merged = peft.mergeAndUnload();
  assert.deepEqual(await merged.generate(prompt), withAdapter);
  assert.ok(merged.getSubmodule('model.layers.0.self_attn.q_proj') instanceof Linear);
  const m = logits(merged);
  assert.ok(maxDiff(tuned, m) < 1e-4, `merged differs by ${maxDiff(tuned, m)}`);
  assert.throws(() => peft.model, /unloaded by mergeAndUnload/);
  tf.dispose([base, tuned, disabled, again, m]);
  merged.dispose();
});

test('LoRA on a 4-bit base: merge dequantizes, adds and requantizes; dropout only in training; gradients reach only LoRA', async () => {
  await ensureBackend();
  const q = new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4' });
  const model = LlamaForCausalLM.fromConfig(TINY, { seed: 3 });
  for (const [name, mod] of model.namedModules()) {
    if (mod instanceof Linear && name !== 'lm_head' && !q.skips(name)) model.setSubmodule(name, q.quantizeLinear(name, tf.clone(mod.weight)));
  }
  const peft = getPeftModel(model, walkthrough(), { warn: false });
  assert.ok((peft.loraLayers()[0][1]).base_layer instanceof Linear4bit);
  perturb(peft, 5);
  peft.train();
  const x = tf.randomNormal([3, 32], 0, 1, 'float32', 1);
  const layer = peft.loraLayers()[0][1];
  const y1 = layer.forward(x);
  const y2 = layer.forward(x);
  assert.ok(maxDiff(y1, y2) > 0, 'dropout masks differ between calls in training');
  peft.eval();
  const y3 = layer.forward(x);
  const y4 = layer.forward(x);
  assert.equal(maxDiff(y3, y4), 0);
  peft.train();
  const { value, grads } = tf.variableGrads(() => peft.forward({ inputIds: IDS, labels: IDS }).loss as tf.Scalar);
  const names = new Map(peft.namedParameters().map(([n, p]) => [p.name, n]));
  const gradNames = Object.keys(grads).map((k) => names.get(k)!);
  assert.equal(gradNames.length, 12);
  assert.ok(gradNames.every((n) => /lora_[AB]\.default\.weight$/.test(n)));
  const gB = grads[layer.loraB.weight.name];
  assert.ok(tf.tidy(() => tf.max(tf.abs(gB)).dataSync()[0]) > 0);
  tf.dispose([x, y1, y2, y3, y4, value, ...Object.values(grads)]);
  // merged weight = NF4(dequant(W) + scaling·B·A), the same requantization PEFT does
  const expected = tf.tidy(() => {
    const sum = tf.add((layer.base_layer as Linear4bit).dequantize(), layer.deltaWeight());
    const q4 = quantize4bit(sum, { quantType: 'nf4' });
    return tf.tensor2d(dequantize4bitValues(q4.packed, q4.state), [32, 32]);
  });
  const merged = peft.mergeAndUnload();
  const q0 = merged.getSubmodule('model.layers.0.self_attn.q_proj') as Linear4bit;
  assert.ok(q0 instanceof Linear4bit);
  const got = q0.dequantize();
  assert.equal(maxDiff(expected, got), 0);
  tf.dispose([expected, got]);
  merged.dispose();
});

test('modulesToSave trains a copy of lm_head, saves it as base_model.model.lm_head.weight, and disabling uses the original', async () => {
  await ensureBackend();
  const dir = tmp();
  const config = new LoraConfig({ r: 2, targetModules: ['q_proj'], modulesToSave: ['lm_head'] });
  const peft = getPeftModel(LlamaForCausalLM.fromConfig(TINY, { seed: 3 }), config);
  const trainable = peft.namedParameters().filter(([, p]) => p.trainable).map(([n]) => n);
  assert.ok(trainable.includes('base_model.model.lm_head.modules_to_save.default.weight'));
  assert.ok(!trainable.includes('base_model.model.lm_head.original_module.weight'));
  const head = peft.namedParameters().find(([n]) => n.endsWith('lm_head.modules_to_save.default.weight'))![1];
  const bumped = tf.add(head, 0.5);
  head.assign(bumped);
  bumped.dispose();
  peft.eval();
  const tuned = logits(peft);
  const plain = await peft.withAdapterDisabled(() => logits(peft));
  const base = LlamaForCausalLM.fromConfig(TINY, { seed: 3 });
  const ref = logits(base);
  assert.equal(maxDiff(ref, plain), 0);
  assert.ok(maxDiff(ref, tuned) > 0.1);
  await peft.savePretrained(dir);
  const { tensors } = loadRaw(path.join(dir, 'adapter_model.safetensors'));
  assert.deepEqual([...tensors.keys()].sort(), [
    'base_model.model.lm_head.weight',
    'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight',
    'base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight', 'base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight',
  ]);
  const loaded = await PeftModel.fromPretrained(base, dir);
  const again = logits(loaded);
  assert.equal(maxDiff(tuned, again), 0);
  const merged = loaded.mergeAndUnload();
  assert.ok(merged.lm_head instanceof Linear);
  const m = logits(merged);
  assert.ok(maxDiff(tuned, m) < 1e-5);
  const other = LlamaForCausalLM.fromConfig(TINY);
  assert.throws(() => getPeftModel(other, new LoraConfig({ targetModules: ['q_proj'], modulesToSave: ['score'] })), /`modules_to_save` lists "score", which matches no module of the model/);
  other.dispose();
  tf.dispose([tuned, plain, ref, again, m]);
  merged.dispose();
  peft.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});
