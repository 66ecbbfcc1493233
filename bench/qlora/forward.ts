/**
 * NF4 vs fp32 on CPU: tfjs memory of a tiny Llama's weights and forward time, same model, same run.
 *   npx tsc -p tsconfig.json --outDir build/qlora && node build/qlora/bench/qlora/forward.js
 * (QLORA_TS_BACKEND=cpu for the cpu backend; wasm by default.)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../lib/backend';
import { AutoModelForCausalLM, LlamaForCausalLM } from '../../lib/model/llama';
import { BitsAndBytesConfig } from '../../lib/quant/bnb_config';
import { Linear4bit } from '../../lib/quant/linear4bit';
import { Linear } from '../../lib/nn/linear';
import { LoraConfig } from '../../lib/lora/config';
import { getPeftModel } from '../../lib/lora/peft_model';

const CONFIG = { vocabSize: 2048, hiddenSize: 512, intermediateSize: 1408, numHiddenLayers: 4, numAttentionHeads: 8, numKeyValueHeads: 2, headDim: 64 };
const B = 1;
const T = 128;

async function timeForward(model: { forward(a: { inputIds: number[][] }): { logits: tf.Tensor } }, reps: number): Promise<number> {
  const ids = [Array.from({ length: T }, (_, i) => (i * 37) % CONFIG.vocabSize)];
  for (let i = 0; i < 2; i++) {
    const warm = model.forward({ inputIds: ids }).logits;
    await warm.data();
    warm.dispose();
  }
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    const out = model.forward({ inputIds: ids }).logits;
    await out.data();
    out.dispose();
  }
  return (performance.now() - t0) / reps;
}

/** Bytes of the decoder's linear layers (everything but embeddings, norms and lm_head). */
function decoderLinearBytes(model: LlamaForCausalLM): number {
  let bytes = 0;
  for (const [name, m] of model.namedModules()) {
    if (!name.startsWith('model.layers.') || !(m instanceof Linear || m instanceof Linear4bit)) continue;
    for (const [, t] of [...m.namedParameters(), ...m.namedBuffers()]) bytes += t.size * 4;
  }
  return bytes;
}

async function main(): Promise<void> {
  const backend = await ensureBackend();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-bench-'));
  const src = LlamaForCausalLM.fromConfig(CONFIG, { seed: 0 });
  await src.savePretrained(dir, { dtype: 'F32' });
  src.dispose();
  const rows: string[] = [];
  let fp32Bytes = 0;
  let fp32Ms = 0;
  let fp32Linear = 0;
  for (const [label, quant] of [['fp32', undefined], ['NF4', new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4' })], ['NF4 + double quant', new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4', bnb4bitUseDoubleQuant: true })]] as const) {
    const before = tf.memory().numBytes;
    const model = await AutoModelForCausalLM.fromPretrained(dir, { quantizationConfig: quant });
    const bytes = tf.memory().numBytes - before;
    const linearBytes = decoderLinearBytes(model);
    const ms = await timeForward(model, 8);
    const peft = getPeftModel(model, new LoraConfig({ r: 16, loraAlpha: 32, targetModules: ['q_proj', 'k_proj', 'v_proj'] }));
    peft.eval();
    const msLora = await timeForward(peft, 8);
    if (label === 'fp32') { fp32Bytes = bytes; fp32Ms = ms; fp32Linear = linearBytes; }
    rows.push(`| ${label} | ${(bytes / 2 ** 20).toFixed(2)} | ${(bytes / fp32Bytes).toFixed(3)} | ${(linearBytes / 2 ** 20).toFixed(2)} | ${(linearBytes / fp32Linear).toFixed(3)} | ${ms.toFixed(1)} | ${(ms / fp32Ms).toFixed(2)} | ${msLora.toFixed(1)} |`);
    peft.dispose();
  }
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`backend ${backend}; model ${JSON.stringify(CONFIG)}; forward B=${B} T=${T}`);
  console.log('| weights | whole model tf.memory MiB | vs fp32 | decoder linears MiB | vs fp32 | forward ms | vs fp32 | forward ms, LoRA r16 q/k/v |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

main().catch((e) => { console.error(e); process.exit(1); });
