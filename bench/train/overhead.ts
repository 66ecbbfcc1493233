/**
 * Per-step overhead of the Trainer for full fine-tuning: the same model and batches trained by
 * Trainer.train() and by a bare loop (variableGrads + the same AdamW), steps in turns.
 *   npx tsc -p tsconfig.json --outDir build/trainer && node build/trainer/bench/train/overhead.js
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../lib/backend';
import { LlamaForCausalLM } from '../../lib/model/llama';
import { AdamW } from '../../lib/train/optim/adamw';
import { Trainer } from '../../lib/train/trainer';
import { TrainingArguments } from '../../lib/train/training_args';

const CONFIG = { vocabSize: 2048, hiddenSize: 256, intermediateSize: 688, numHiddenLayers: 4, numAttentionHeads: 4, numKeyValueHeads: 4, headDim: 64, padTokenId: 0 };
const BATCH = 4;
const SEQ = 128;
const STEPS = Number(process.env.BENCH_STEPS ?? 5);
const rows = Array.from({ length: 64 }, (_, r) => ({ input_ids: Array.from({ length: SEQ }, (_, t) => 1 + ((r * 131 + t * 17) % (CONFIG.vocabSize - 1))) }));

async function main(): Promise<void> {
  const backend = await ensureBackend();
  const a = LlamaForCausalLM.fromConfig(CONFIG, { seed: 0 });
  const b = LlamaForCausalLM.fromConfig(CONFIG, { seed: 0 });
  const args = new TrainingArguments({ outputDir: fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-overhead-')), maxSteps: 1, perDeviceTrainBatchSize: BATCH, learningRate: 1e-3, loggingSteps: 1, saveStrategy: 'no', disableTqdm: true });
  const trainer = new Trainer({ model: a, args, trainDataset: rows });
  const params = b.parameters();
  const opt = new AdamW(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 });
  const ids = rows.slice(0, BATCH).map((r) => r.input_ids);
  const bare = () => {
    const t0 = performance.now();
    const { value, grads } = tf.variableGrads(() => b.forward({ inputIds: ids, labels: ids }).loss!, params);
    value.dataSync();
    const list = params.map((p) => grads[p.name]);
    opt.step(list, 1e-3);
    tf.dispose([value, ...list]);
    return performance.now() - t0;
  };
  const viaTrainer = async () => {
    const t0 = performance.now();
    await trainer.train();
    trainer.optimizer!.dispose();
    return performance.now() - t0;
  };
  bare();
  await viaTrainer();
  const tb: number[] = [];
  const tt: number[] = [];
  for (let i = 0; i < STEPS; i++) {
    tb.push(bare());
    tt.push(await viaTrainer());
  }
  const median = (x: number[]) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)];
  console.log(`backend ${backend}; full fine-tuning of ${JSON.stringify(CONFIG)} (${a.numParameters()} parameters); batch ${BATCH} × ${SEQ}; median of ${STEPS}`);
  console.log(`| loop | ms/step | vs bare |\n|---|---|---|\n| bare variableGrads + AdamW | ${median(tb).toFixed(0)} | 1.00 |\n| Trainer.train() (one step a call: + optimizer set-up) | ${median(tt).toFixed(0)} | ${(median(tt) / median(tb)).toFixed(2)} |`);
  a.dispose();
  b.dispose();
}

main().catch((e) => { console.error(e); process.exit(1); });
