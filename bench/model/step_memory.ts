/**
 * Peak memory of one LoRA training step on the CPU (wasm backend): tensor data alive at the worst
 * moment of forward + backward, each buffer once (peakDataBytes), with gradients from
 * tf.variableGrads (everything the backward pass reads or makes kept until it returns) and from
 * variableGradsReleasing (freed as the walk passes), in turns within one process.
 *   npx tsc -p tsconfig.json --outDir build/x && node build/x/bench/model/step_memory.js
 * The model is the 1B bench's shape scaled down (GQA 4:1, MLP 4× hidden, LoRA r16 α32 on all seven
 * linears of a frozen float32 base). Options (env): BENCH_LAYERS (4), BENCH_HIDDEN (512),
 * BENCH_BATCH (4), BENCH_SEQ (128), BENCH_STEPS (3 per method), BENCH_CKPT (1: every layer
 * checkpointed), BENCH_TARGETS (all, or qkv: the walkthrough's q/k/v adapters).
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend, describeBackend } from '../../lib/backend';
import { LlamaForCausalLM } from '../../lib/model/llama';
import { LoraConfig } from '../../lib/lora/config';
import { getPeftModel } from '../../lib/lora/peft_model';
import { variableGradsReleasing } from '../../lib/train/grads';
import { peakDataBytes } from '../../lib/train/engine_tape';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const hidden = env('BENCH_HIDDEN', 512);
const cfg = {
  vocabSize: 2048, hiddenSize: hidden, intermediateSize: 4 * hidden, numHiddenLayers: env('BENCH_LAYERS', 4),
  numAttentionHeads: hidden / 64, numKeyValueHeads: hidden / 256, maxPositionEmbeddings: 1024,
};
const B = env('BENCH_BATCH', 4);
const T = env('BENCH_SEQ', 128);
const steps = env('BENCH_STEPS', 3);
const TARGETS: Record<string, string[]> = { all: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], qkv: ['q_proj', 'k_proj', 'v_proj'] };
const targets = process.env.BENCH_TARGETS ?? 'all';
if (!TARGETS[targets]) throw new Error(`bench/model/step_memory: BENCH_TARGETS must be one of ${Object.keys(TARGETS).join(', ')}, got '${targets}'`);

const MiB = (n: number) => +(n / 2 ** 20).toFixed(1);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  await ensureBackend();
  const base = LlamaForCausalLM.fromConfig(cfg, { seed: 1 });
  if (process.env.BENCH_CKPT === '1') base.gradientCheckpointingEnable();
  const model = getPeftModel(base, new LoraConfig({ r: 16, loraAlpha: 32, targetModules: TARGETS[targets], taskType: 'CAUSAL_LM' }), { warn: false });
  model.train();
  const params = model.trainableParameters();
  const ids = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (b * 7919 + t * 104729 + 17) % cfg.vocabSize));
  const methods = { 'tf.variableGrads': tf.variableGrads, variableGradsReleasing } as const;
  const rows = new Map<string, { peak: number[]; forward: number[]; ms: number[]; loss: number }>();
  for (let round = 0; round <= steps; round++) {
    for (const [name, grads] of Object.entries(methods)) {
      const t0 = performance.now();
      let forwardPeak = 0;
      const { result, peakBytes } = peakDataBytes(() => grads(() => {
        const r = peakDataBytes(() => model.forward({ inputIds: ids, labels: ids, returnLogits: false }).loss as tf.Scalar);
        forwardPeak = r.peakBytes;
        return r.result;
      }, params));
      const loss = result.value.dataSync()[0];
      tf.dispose([result.value, ...Object.values(result.grads)]);
      const ms = performance.now() - t0;
      if (round === 0) continue; // warm-up
      const row = rows.get(name) ?? { peak: [], forward: [], ms: [], loss };
      row.peak.push(peakBytes);
      row.forward.push(forwardPeak);
      row.ms.push(ms);
      rows.set(name, row);
    }
  }
  const ref = rows.get('tf.variableGrads')!;
  const weights = tf.memory().numBytes;
  console.log(`${describeBackend()}; ${cfg.numHiddenLayers} layers, hidden ${hidden}, batch ${B}×${T}, LoRA r16 on ${TARGETS[targets].join('/')}${process.env.BENCH_CKPT === '1' ? ', every layer checkpointed' : ''}; weights + adapters ${MiB(weights)} MiB; load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log('| gradients | peak data over the step, MiB (beyond weights) | vs tf.variableGrads | of which the forward\'s peak | ms/step (median) | loss |\n|---|---|---|---|---|---|');
  for (const [name, r] of rows) {
    console.log(`| ${name} | ${MiB(median(r.peak))} | ${(median(r.peak) / median(ref.peak)).toFixed(2)} | ${MiB(median(r.forward))} | ${median(r.ms).toFixed(0)} | ${r.loss.toFixed(4)} |`);
  }
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
