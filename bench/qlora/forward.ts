/**
 * NF4 vs fp32 on CPU: tfjs memory of a tiny Llama's weights and its forward time, same model, same
 * run; the three variants are timed in turns (median of the reps) so machine load hits them alike.
 *   npx tsc -p tsconfig.json --outDir build/qlora && node build/qlora/bench/qlora/forward.js
 * (QLORA_TS_BACKEND=cpu for the cpu backend; wasm by default.)
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../lib/backend';
import { randomCheckpoint } from '../common/checkpoint';
import { AutoModelForCausalLM, LlamaForCausalLM } from '../../lib/model/llama';
import { Linear } from '../../lib/nn/linear';
import { BitsAndBytesConfig } from '../../lib/quant/bnb_config';
import { Linear4bit } from '../../lib/quant/linear4bit';

const CONFIG = { vocabSize: 2048, hiddenSize: 512, intermediateSize: 1408, numHiddenLayers: 4, numAttentionHeads: 8, numKeyValueHeads: 2, headDim: 64 };
const T = 128;
const REPS = 9;

/** Bytes of the decoder's linear layers (everything but embeddings, norms and lm_head). */
function decoderLinearBytes(model: LlamaForCausalLM): number {
  let bytes = 0;
  for (const [name, m] of model.namedModules()) {
    if (!name.startsWith('model.layers.') || !(m instanceof Linear || m instanceof Linear4bit)) continue;
    for (const [, t] of [...m.namedParameters(), ...m.namedBuffers()]) bytes += t.size * 4;
  }
  return bytes;
}

async function forwardMs(model: LlamaForCausalLM, ids: number[][]): Promise<number> {
  const t0 = performance.now();
  const out = model.forward({ inputIds: ids }).logits;
  await out.data();
  out.dispose();
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const backend = await ensureBackend();
  const dir = await randomCheckpoint(CONFIG);
  const variants: Array<[string, BitsAndBytesConfig | undefined]> = [
    ['fp32', undefined],
    ['NF4', new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4' })],
    ['NF4 + double quant', new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4', bnb4bitUseDoubleQuant: true })],
  ];
  const loaded: Array<{ label: string; model: LlamaForCausalLM; bytes: number; linear: number; times: number[] }> = [];
  for (const [label, quant] of variants) {
    const before = tf.memory().numBytes;
    const model = await AutoModelForCausalLM.fromPretrained(dir, { quantizationConfig: quant });
    model.eval();
    loaded.push({ label, model, bytes: tf.memory().numBytes - before, linear: decoderLinearBytes(model), times: [] });
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const ids = [Array.from({ length: T }, (_, i) => (i * 37) % CONFIG.vocabSize)];
  for (const v of loaded) await forwardMs(v.model, ids); // warm-up
  for (let r = 0; r < REPS; r++) for (const v of loaded) v.times.push(await forwardMs(v.model, ids));
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const [ref] = loaded;
  console.log(`backend ${backend}; model ${JSON.stringify(CONFIG)}; forward batch 1 × ${T} tokens, median of ${REPS}`);
  console.log('| weights | whole model tf.memory MiB | vs fp32 | decoder linears MiB | vs fp32 | forward ms | vs fp32 |');
  console.log('|---|---|---|---|---|---|---|');
  for (const v of loaded) {
    console.log(`| ${v.label} | ${(v.bytes / 2 ** 20).toFixed(2)} | ${(v.bytes / ref.bytes).toFixed(3)} | ${(v.linear / 2 ** 20).toFixed(2)} | ${(v.linear / ref.linear).toFixed(3)} | ${median(v.times).toFixed(1)} | ${(median(v.times) / median(ref.times)).toFixed(2)} |`);
    v.model.dispose();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
