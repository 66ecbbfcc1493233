import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { AutoModelForCausalLM, LlamaForCausalLM } from '../../../lib/model/llama';
import { BitsAndBytesConfig } from '../../../lib/quant/bnb_config';
import { prepareModelForKbitTraining } from '../../../lib/quant/prepare';
import { LoraConfig } from '../../../lib/lora/config';
import { getPeftModel } from '../../../lib/lora/peft_model';

const IDS = [[1, 5, 9, 13, 2, 7, 11, 4], [3, 3, 8, 60, 0, 1, 2, 9]];

/** The walkthrough's pipeline on a tiny model: 4-bit load, prepare, LoRA with dropout; returns loss and LoRA grads. */
async function step(dir: string, checkpointing: boolean): Promise<{ loss: number; grads: Map<string, Float32Array>; numTensors: number }> {
  const model = await AutoModelForCausalLM.fromPretrained(dir, { quantizationConfig: new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4', bnb4bitComputeDtype: 'float16' }) });
  prepareModelForKbitTraining(model, { useGradientCheckpointing: checkpointing });
  const peft = getPeftModel(model, new LoraConfig({ r: 4, loraAlpha: 8, loraDropout: 0.1, targetModules: ['q_proj', 'k_proj', 'v_proj'], taskType: 'CAUSAL_LM' }), { seed: 1 });
  peft.loraLayers().forEach(([, l], i) => {
    const b = tf.randomNormal(l.loraB.weight.shape, 0, 0.1, 'float32', i + 1);
    l.loraB.weight.assign(b);
    b.dispose();
  });
  peft.train();
  const numTensors = tf.memory().numTensors;
  const { value, grads } = tf.variableGrads(() => peft.forward({ inputIds: IDS, labels: IDS }).loss as tf.Scalar);
  const names = new Map(peft.namedParameters().map(([n, p]) => [p.name, n]));
  const out = new Map<string, Float32Array>();
  for (const [k, g] of Object.entries(grads)) out.set(names.get(k)!, g.dataSync() as Float32Array);
  const loss = value.dataSync()[0];
  tf.dispose([value, ...Object.values(grads)]);
  const after = tf.memory().numTensors;
  peft.dispose();
  return { loss, grads: out, numTensors: after - numTensors };
}

test('a QLoRA step (NF4 base, LoRA with dropout) gives the same loss and LoRA gradients with and without gradient checkpointing', async () => {
  await ensureBackend();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-step-'));
  const base = LlamaForCausalLM.fromConfig({ vocabSize: 64, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 8, initializerRange: 0.2 }, { seed: 4 });
  await base.savePretrained(dir, { dtype: 'F32' });
  base.dispose();
  const plain = await step(dir, false);
  const plain2 = await step(dir, false);
  assert.equal(plain.loss, plain2.loss, 'deterministic: seeded init and dropout');
  const ckpt = await step(dir, true);
  assert.equal(plain.numTensors, 0);
  assert.equal(ckpt.numTensors, 0);
  assert.ok(Math.abs(plain.loss - ckpt.loss) < 1e-6);
  assert.equal(plain.grads.size, 12);
  assert.deepEqual([...ckpt.grads.keys()].sort(), [...plain.grads.keys()].sort());
  for (const [name, g] of plain.grads) {
    const h = ckpt.grads.get(name)!;
    let max = 0;
    let scale = 0;
    for (let i = 0; i < g.length; i++) { max = Math.max(max, Math.abs(g[i] - h[i])); scale = Math.max(scale, Math.abs(g[i])); }
    assert.ok(scale > 0, `${name} has a gradient`);
    assert.ok(max <= 1e-5 * Math.max(1, scale), `${name}: ${max}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
