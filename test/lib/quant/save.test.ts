import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { AutoModelForCausalLM, LlamaForCausalLM } from '../../../lib/model/llama';
import { SafetensorsFile } from '../../../lib/model/safetensors';
import { BitsAndBytesConfig } from '../../../lib/quant/bnb_config';
import { Linear4bit } from '../../../lib/quant/linear4bit';
import { saveQuantizedPretrained } from '../../../lib/quant/save';

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

test('a 4-bit model saves in bitsandbytes layout with quantization_config and reloads to the same weights and logits', async () => {
  await ensureBackend();
  const src = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-q-src-'));
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-q-out-'));
  const base = LlamaForCausalLM.fromConfig({ vocabSize: 64, hiddenSize: 64, intermediateSize: 128, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 16 }, { seed: 2 });
  await base.savePretrained(src, { dtype: 'F32' });
  base.dispose();
  const bnb = new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4', bnb4bitUseDoubleQuant: true, bnb4bitComputeDtype: 'bfloat16' });
  const model = await AutoModelForCausalLM.fromPretrained(src, { quantizationConfig: bnb });
  await saveQuantizedPretrained(model, out, bnb);

  const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
  assert.deepEqual(config.quantization_config, bnb.toDict());
  const f = SafetensorsFile.open(path.join(out, 'model.safetensors'));
  const keys = f.keys().filter((k) => k.startsWith('model.layers.0.self_attn.q_proj.'));
  assert.deepEqual(keys.sort(), [
    'model.layers.0.self_attn.q_proj.weight', 'model.layers.0.self_attn.q_proj.weight.absmax', 'model.layers.0.self_attn.q_proj.weight.nested_absmax',
    'model.layers.0.self_attn.q_proj.weight.nested_quant_map', 'model.layers.0.self_attn.q_proj.weight.quant_map',
    'model.layers.0.self_attn.q_proj.weight.quant_state.bitsandbytes__nf4',
  ]);
  assert.deepEqual(f.tensors.get('model.layers.0.self_attn.q_proj.weight'), { dtype: 'U8', shape: [2048, 1], dataOffsets: f.tensors.get('model.layers.0.self_attn.q_proj.weight')!.dataOffsets });
  assert.equal(f.tensors.get('lm_head.weight')!.dtype, 'F32');
  f.close();

  const fromDir = await BitsAndBytesConfig.fromPretrained(out);
  assert.deepEqual(fromDir?.toDict(), bnb.toDict());
  assert.equal(await BitsAndBytesConfig.fromPretrained(src), undefined);
  const again = await AutoModelForCausalLM.fromPretrained(out, { quantizationConfig: fromDir });
  for (const [name, m] of model.namedModules()) {
    if (!(m instanceof Linear4bit)) continue;
    const other = again.getSubmodule(name);
    assert.ok(other instanceof Linear4bit, name);
    assert.equal(other.doubleQuant, true);
    const [a, b] = [m.dequantize(), other.dequantize()];
    assert.equal(maxDiff(a, b), 0, name);
    tf.dispose([a, b]);
  }
  const ids = [[3, 1, 4, 1, 5, 9]];
  const [la, lb] = [model.forward({ inputIds: ids }).logits, again.forward({ inputIds: ids }).logits];
  assert.equal(maxDiff(la, lb), 0);
  tf.dispose([la, lb]);
  model.dispose();
  again.dispose();
  fs.rmSync(src, { recursive: true, force: true });
  fs.rmSync(out, { recursive: true, force: true });
});
