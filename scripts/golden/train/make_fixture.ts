/**
 * Writes the inputs of the training golden test (test/fixtures/train/), which
 * scripts/golden/train/make_refs.py trains with transformers + PEFT + torch AdamW:
 *   init_adapter/   the initial LoRA weights (lora_B nonzero so every adapter weight moves at step 1)
 *   plan.json       the training rows, the hyper-parameters, and for every optimizer step the
 *                   micro-batches (row indices) in the order our Trainer draws them (seeded shuffle)
 * Base model: test/fixtures/llama/gqa (written by transformers). From the repository root:
 *   npx tsc -p tsconfig.json --outDir build/trainer && node build/trainer/scripts/golden/train/make_fixture.js
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { AutoModelForCausalLM } from '../../../lib/model/llama';
import { LoraConfig } from '../../../lib/lora/config';
import { getPeftModel } from '../../../lib/lora/peft_model';
import { mulberry32 } from '../../../lib/random';
import { epochBatches } from '../../../lib/train/sampler';

export const GOLDEN_TRAIN = {
  maxSteps: 30, perDeviceTrainBatchSize: 2, gradientAccumulationSteps: 2, learningRate: 3e-3, lrSchedulerType: 'linear' as const,
  warmupSteps: 3, weightDecay: 0.01, maxGradNorm: 1.0, adamBeta1: 0.9, adamBeta2: 0.999, adamEpsilon: 1e-8, seed: 11, numRows: 22,
};

/** Rows of 5..16 tokens in 1..127 following a simple rule (so the loss can fall), pad id 0 unused. */
export function goldenRows(n: number): number[][] {
  const random = mulberry32(2026);
  return Array.from({ length: n }, () => {
    const len = 5 + Math.floor(random() * 12);
    let t = 1 + Math.floor(random() * 127);
    return Array.from({ length: len }, () => (t = 1 + ((t * 5 + 17) % 127)));
  });
}

async function main(): Promise<void> {
  const out = path.resolve('test/fixtures/train');
  const g = GOLDEN_TRAIN;
  const base = await AutoModelForCausalLM.fromPretrained(path.resolve('test/fixtures/llama/gqa'));
  const config = new LoraConfig({ r: 8, loraAlpha: 16, loraDropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'down_proj'], taskType: 'CAUSAL_LM' });
  const peft = getPeftModel(base, config, { seed: 4 });
  peft.loraLayers().forEach(([, l], i) => {
    const b = tf.randomNormal(l.loraB.weight.shape, 0, 0.05, 'float32', 300 + i);
    l.loraB.weight.assign(b);
    b.dispose();
  });
  await peft.savePretrained(path.join(out, 'init_adapter'));
  const rows = goldenRows(g.numRows);
  const steps: number[][][] = [];
  for (let epoch = 0; steps.length < g.maxSteps; epoch++) {
    const batches = epochBatches(rows.length, epoch, { batchSize: g.perDeviceTrainBatchSize, gradientAccumulationSteps: g.gradientAccumulationSteps, seed: g.seed, dropLast: false });
    for (let i = 0; i < batches.length && steps.length < g.maxSteps; i += g.gradientAccumulationSteps) steps.push(batches.slice(i, i + g.gradientAccumulationSteps));
  }
  fs.writeFileSync(path.join(out, 'plan.json'), JSON.stringify({ args: g, pad_token_id: 0, rows, steps }) + '\n');
  console.log(`wrote ${out}`);
}

if (require.main === module) main().catch((e) => { console.error(e); process.exit(1); });
