/**
 * Writes the adapter that qlora-ts saves, for Python PEFT to load on the GPU machine
 * (scripts/golden/peft/make_refs.py checks PEFT computes our logits with it):
 *   test/fixtures/peft/ours/adapter/{adapter_config.json, adapter_model.safetensors}
 *   test/fixtures/peft/ours/logits.json   our logits for the fixed input ids
 * Base model: test/fixtures/llama/gqa (written by transformers). Run from the repository root:
 *   npx tsc -p tsconfig.json --outDir build/qlora && node build/qlora/scripts/golden/peft/make_ours.js
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { AutoModelForCausalLM } from '../../../lib/model/llama';
import { LoraConfig } from '../../../lib/lora/config';
import { getPeftModel } from '../../../lib/lora/peft_model';

export const GOLDEN_IDS = [[81, 90, 29, 60, 96, 101, 60, 16], [41, 17, 29, 105, 89, 32, 118, 7]];

async function main(): Promise<void> {
  const out = path.resolve('test/fixtures/peft/ours');
  const base = await AutoModelForCausalLM.fromPretrained(path.resolve('test/fixtures/llama/gqa'));
  const config = new LoraConfig({ r: 4, loraAlpha: 8, loraDropout: 0.05, targetModules: ['q_proj', 'v_proj', 'down_proj'], taskType: 'CAUSAL_LM', useRslora: true });
  const peft = getPeftModel(base, config, { seed: 7 });
  peft.loraLayers().forEach(([, l], i) => {
    const b = tf.randomNormal(l.loraB.weight.shape, 0, 0.2, 'float32', 100 + i);
    l.loraB.weight.assign(b);
    b.dispose();
  });
  peft.eval();
  const logits = peft.forward({ inputIds: GOLDEN_IDS }).logits;
  await peft.savePretrained(path.join(out, 'adapter'));
  fs.writeFileSync(path.join(out, 'logits.json'), JSON.stringify({ input_ids: GOLDEN_IDS, shape: logits.shape, logits: Array.from(await logits.data()) }) + '\n');
  console.log(`wrote ${out}`);
}

if (require.main === module) main().catch((e) => { console.error(e); process.exit(1); });
