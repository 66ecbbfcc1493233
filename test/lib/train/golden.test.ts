import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureBackend } from '../../../lib/backend';
import { AutoModelForCausalLM } from '../../../lib/model/llama';
import { loadRaw, decodeRaw } from '../../../lib/model/safetensors';
import { PeftModel } from '../../../lib/lora/peft_model';
import { Trainer } from '../../../lib/train/trainer';
import { TrainingArguments } from '../../../lib/train/training_args';
import { tempDir } from '../../tmp';
import { packageRoot } from '../../../lib/package_root';

/** Inputs from scripts/golden/train/make_fixture.ts; references from scripts/golden/train/make_refs.py (see README.md there). */
const FIX = path.join(packageRoot(), 'test/fixtures/train');
const BASE = path.join(packageRoot(), 'test/fixtures/llama/gqa');

interface Ref { step: number; loss: number; grad_norm: number; learning_rate: number }

test('golden: 30 LoRA steps on the tiny gqa Llama match transformers + PEFT + torch AdamW (fp32)', async () => {
  await ensureBackend();
  const plan = JSON.parse(fs.readFileSync(path.join(FIX, 'plan.json'), 'utf8'));
  const refs = JSON.parse(fs.readFileSync(path.join(FIX, 'refs.json'), 'utf8'));
  const a = plan.args;
  const base = await AutoModelForCausalLM.fromPretrained(BASE);
  const model = await PeftModel.fromPretrained(base, path.join(FIX, 'init_adapter'), { isTrainable: true, warn: false });
  const args = new TrainingArguments({
    outputDir: tempDir('golden'), maxSteps: a.maxSteps, perDeviceTrainBatchSize: a.perDeviceTrainBatchSize,
    gradientAccumulationSteps: a.gradientAccumulationSteps, learningRate: a.learningRate, lrSchedulerType: a.lrSchedulerType, warmupSteps: a.warmupSteps,
    weightDecay: a.weightDecay, maxGradNorm: a.maxGradNorm, adamBeta1: a.adamBeta1, adamBeta2: a.adamBeta2, adamEpsilon: a.adamEpsilon,
    seed: a.seed, loggingSteps: 1, saveStrategy: 'no', disableTqdm: true,
  });
  const trainer = new Trainer({ model, args, trainDataset: (plan.rows as number[][]).map((ids) => ({ input_ids: ids })) });
  await trainer.train();
  const ours = trainer.state.logHistory.filter((e) => 'loss' in e);
  const want: Ref[] = refs.plain;
  assert.equal(ours.length, want.length);
  let worst = 0;
  want.forEach((r, i) => {
    const o = ours[i];
    assert.equal(o.step, r.step);
    const rel = Math.abs(o.loss - r.loss) / r.loss;
    worst = Math.max(worst, rel);
    assert.ok(rel < 1e-5, `step ${r.step}: loss ${o.loss} vs ${r.loss}`);
    assert.ok(Math.abs(o.grad_norm - r.grad_norm) / r.grad_norm < 1e-4, `step ${r.step}: grad_norm ${o.grad_norm} vs ${r.grad_norm}`);
  });
  // transformers 5's Trainer logs the rate each step ran at: ours must read the same
  const hf: Ref[] = refs.hf_trainer.filter((e: Ref) => 'loss' in e);
  hf.forEach((r, i) => assert.ok(Math.abs(ours[i].learning_rate - r.learning_rate) < 1e-12, `step ${r.step}: lr ${ours[i].learning_rate} vs ${r.learning_rate}`));
  hf.forEach((r, i) => assert.ok(Math.abs(ours[i].loss - r.loss) / r.loss < 2e-5, `HF Trainer step ${r.step}: ${ours[i].loss} vs ${r.loss}`));
  // final adapter weights
  const { tensors } = loadRaw(path.join(FIX, 'final_adapter', 'adapter_model.safetensors'));
  const mine = new Map(model.namedParameters().map(([n, p]) => [n.replace('.default.', '.'), p]));
  let maxDiff = 0;
  for (const [key, raw] of tensors) {
    const p = mine.get(key)!;
    assert.ok(p, `no parameter for ${key}`);
    const ref = decodeRaw(raw) as Float32Array;
    const got = p.dataSync() as Float32Array;
    ref.forEach((v, j) => { maxDiff = Math.max(maxDiff, Math.abs(v - got[j])); });
  }
  assert.ok(maxDiff < 1e-4, `final LoRA weights differ by ${maxDiff}`);
  console.log(`golden train: worst loss rel. diff ${worst.toExponential(2)}, final weights max abs diff ${maxDiff.toExponential(2)}`);
  trainer.optimizer!.dispose();
  model.dispose();
});
