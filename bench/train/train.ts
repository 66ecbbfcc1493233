/**
 * CPU training throughput and peak tfjs memory of the Trainer: QLoRA (NF4 base) against LoRA on an
 * fp32 base, each with and without gradient checkpointing, same tiny Llama, same data, same run.
 *   npx tsc -p tsconfig.json --outDir build/trainer && node build/trainer/bench/train/train.js
 * tokens/s: median over the timed steps of the Trainer's own `tokens_per_second` log (first step
 * dropped as warm-up). Peak: tf.profile's peakBytes over one more training step (weights, adapters,
 * optimizer state and activations together). BENCH_STEPS (default 5) timed steps per variant.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../lib/backend';
import { randomCheckpoint } from '../common/checkpoint';
import { AutoModelForCausalLM } from '../../lib/model/llama';
import { BitsAndBytesConfig } from '../../lib/quant/bnb_config';
import { prepareModelForKbitTraining } from '../../lib/quant/prepare';
import { LoraConfig } from '../../lib/lora/config';
import { getPeftModel } from '../../lib/lora/peft_model';
import { Trainer } from '../../lib/train/trainer';
import { TrainingArguments } from '../../lib/train/training_args';

const CONFIG = { vocabSize: 2048, hiddenSize: 512, intermediateSize: 1408, numHiddenLayers: 4, numAttentionHeads: 8, numKeyValueHeads: 2, headDim: 64, padTokenId: 0 };
const BATCH = 2;
const SEQ = 128;
const STEPS = Number(process.env.BENCH_STEPS ?? 5);
const LORA = { r: 32, loraAlpha: 32, loraDropout: 0.05, targetModules: ['q_proj', 'k_proj', 'v_proj'], taskType: 'CAUSAL_LM' as const };

const rows = Array.from({ length: 64 }, (_, r) => ({ input_ids: Array.from({ length: SEQ }, (_, t) => 1 + ((r * 131 + t * 17) % (CONFIG.vocabSize - 1))) }));

/** One model under test: its trainer runs one optimizer step per call, so variants take turns. */
async function load(dir: string, quant: boolean, checkpointing: boolean) {
  const before = tf.memory().numBytes;
  const base = await AutoModelForCausalLM.fromPretrained(dir, { quantizationConfig: quant ? new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4' }) : undefined });
  prepareModelForKbitTraining(base, { useGradientCheckpointing: checkpointing });
  const model = getPeftModel(base, new LoraConfig(LORA), { warn: false });
  const modelBytes = tf.memory().numBytes - before;
  const args = new TrainingArguments({
    outputDir: fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-bench-train-')), maxSteps: 1, perDeviceTrainBatchSize: BATCH, learningRate: 2e-4,
    optim: 'paged_adamw_8bit', loggingSteps: 1, saveStrategy: 'no', disableTqdm: true, gradientCheckpointing: checkpointing,
  });
  const trainer = new Trainer({ model, args, trainDataset: rows });
  const step = async () => {
    await trainer.train();
    trainer.optimizer!.dispose();
    return trainer.state.logHistory[0].tokens_per_second;
  };
  return { model, modelBytes, before, step, tps: [] as number[], peakBytes: 0 };
}

async function main(): Promise<void> {
  const backend = await ensureBackend();
  const dir = await randomCheckpoint(CONFIG);
  const labels = ['LoRA, fp32 base', 'LoRA, fp32 base, checkpointing', 'QLoRA, NF4 base', 'QLoRA, NF4 base, checkpointing'];
  const variants: Array<Awaited<ReturnType<typeof load>>> = [];
  for (const [quant, ckpt] of [[false, false], [false, true], [true, false], [true, true]]) variants.push(await load(dir, quant, ckpt));
  fs.rmSync(dir, { recursive: true, force: true });
  for (const v of variants) await v.step(); // warm-up
  for (let r = 0; r < STEPS; r++) for (const v of variants) v.tps.push(await v.step());
  for (const v of variants) {
    const prof = await tf.profile(async () => { await v.step(); });
    v.peakBytes = prof.peakBytes;
  }
  const base = Math.min(...variants.map((v) => v.before));
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const ref = variants[0];
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  // peakBytes counts every live tensor, the other variants' models included: subtract them.
  const others = (v: typeof ref) => variants.filter((o) => o !== v).reduce((n, o) => n + o.modelBytes, 0) + base;
  const peak = (v: typeof ref) => v.peakBytes - others(v);
  console.log(`backend ${backend}; model ${JSON.stringify(CONFIG)}; LoRA r ${LORA.r} on ${LORA.targetModules.join('/')}; batch ${BATCH} × ${SEQ}; paged_adamw_8bit; median of ${STEPS} steps, variants in turns`);
  console.log('| variant | tokens/s | vs LoRA fp32 | model MiB | peak MiB (one step) | vs LoRA fp32 |');
  console.log('|---|---|---|---|---|---|');
  variants.forEach((v, i) => {
    console.log(`| ${labels[i]} | ${median(v.tps).toFixed(0)} | ${(median(v.tps) / median(ref.tps)).toFixed(2)} | ${mib(v.modelBytes)} | ${mib(peak(v))} | ${(peak(v) / peak(ref)).toFixed(2)} |`);
  });
  for (const v of variants) v.model.dispose();
}

main().catch((e) => { console.error(e); process.exit(1); });
