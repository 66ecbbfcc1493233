import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { Dataset } from '../../../lib/data/dataset';
import { TrainingError } from '../../../lib/errors';
import { AutoModelForCausalLM, LlamaForCausalLM } from '../../../lib/model/llama';
import { BitsAndBytesConfig } from '../../../lib/quant/bnb_config';
import { Linear4bit } from '../../../lib/quant/linear4bit';
import { prepareModelForKbitTraining } from '../../../lib/quant/prepare';
import { LoraLinear } from '../../../lib/lora/layer';
import { LoraConfig } from '../../../lib/lora/config';
import { getPeftModel } from '../../../lib/lora/peft_model';
import { Trainer } from '../../../lib/train/trainer';
import { TrainingArguments, type TrainingArgumentsOptions } from '../../../lib/train/training_args';
import type { LogEntry, TrainerCallback } from '../../../lib/train/state';
import { mulberry32 } from '../../../lib/random';
import { tempDir } from '../../tmp';

const TINY = { vocabSize: 64, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 8, initializerRange: 0.2, padTokenId: 0 };
const tmp = () => tempDir('train');

/** Rows of 4..12 tokens drawn from a small "grammar" (each token predicts the next), so loss can fall. */
function dataset(n: number, seed = 1): Array<{ input_ids: number[] }> {
  const random = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const len = 4 + Math.floor(random() * 9);
    let t = 1 + Math.floor(random() * 60);
    return { input_ids: Array.from({ length: len }, () => (t = 1 + ((t * 7 + 3) % 60))) };
  });
}

function loraModel(dropout = 0, modulesToSave: string[] | null = null) {
  const base = LlamaForCausalLM.fromConfig(TINY, { seed: 3 });
  return getPeftModel(base, new LoraConfig({ r: 4, loraAlpha: 8, loraDropout: dropout, targetModules: ['q_proj', 'v_proj'], taskType: 'CAUSAL_LM', modulesToSave }), { seed: 5, warn: false });
}

function args(outputDir: string, o: Partial<TrainingArgumentsOptions> = {}) {
  return new TrainingArguments({ outputDir, maxSteps: 6, perDeviceTrainBatchSize: 2, gradientAccumulationSteps: 2, learningRate: 1e-2, warmupSteps: 1, loggingSteps: 1, saveStrategy: 'no', weightDecay: 0.01, seed: 7, disableTqdm: true, ...o });
}

const losses = (h: LogEntry[]) => h.filter((e) => 'loss' in e).map((e) => e.loss);

test('LoRA training: loss falls, HF log keys, callbacks in order, no tensor growth across steps', async () => {
  await ensureBackend();
  const model = loraModel(0.1);
  const events: string[] = [];
  const tensorsAtStep: number[] = [];
  const cb: TrainerCallback = {
    onTrainBegin: () => { events.push('begin'); },
    onStepEnd: (_a, s) => { events.push(`step${s.globalStep}`); tensorsAtStep.push(tf.memory().numTensors); },
    onLog: (_a, _s, logs) => { events.push('loss' in logs ? 'log' : 'eval_loss' in logs ? 'evallog' : 'endlog'); },
    onEvaluate: () => { events.push('evaluate'); },
    onTrainEnd: () => { events.push('end'); },
  };
  const trainer = new Trainer({ model, args: args(tmp(), { maxSteps: 12, evalStrategy: 'steps', evalSteps: 6, perDeviceEvalBatchSize: 3 }), trainDataset: dataset(16), evalDataset: dataset(5, 9), callbacks: [cb] });
  const out = await trainer.train();
  const h = trainer.state.logHistory;
  const ls = losses(h);
  assert.equal(ls.length, 12);
  assert.ok(ls.slice(-3).reduce((a, b) => a + b) < ls.slice(0, 3).reduce((a, b) => a + b), `loss should fall: ${ls.map((x) => x.toFixed(3))}`);
  const first = h[0];
  assert.deepEqual(Object.keys(first).sort(), ['epoch', 'grad_norm', 'learning_rate', 'loss', 'step', 'tokens_per_second']);
  assert.equal(first.step, 1);
  assert.equal(first.epoch, 0.25); // 16 rows, batches of 2, 2 accumulated: 4 steps an epoch
  assert.equal(first.learning_rate, 0); // the rate step 1 ran at (warmup 1), as transformers 5 logs it
  assert.equal(h[1].learning_rate, 1e-2);
  assert.ok(first.grad_norm > 0 && first.tokens_per_second > 0);
  const evals = h.filter((e) => 'eval_loss' in e);
  assert.deepEqual(evals.map((e) => e.step), [6, 12]);
  assert.equal(events.slice(0, 3).join(), 'begin,step1,log');
  assert.equal(events.filter((e) => e === 'evaluate').length, 2);
  assert.deepEqual(events.slice(-2), ['endlog', 'end']);
  assert.equal(new Set(tensorsAtStep.slice(1)).size, 1, `tensors per step: ${tensorsAtStep}`);
  assert.equal(out.globalStep, 12);
  assert.match(String(out), /^TrainOutput\(global_step=12, training_loss=[\d.]+, metrics=\{'train_runtime': [\d.]+, .*'train_loss': [\d.]+\}\)$/);
  assert.ok(Math.abs(out.trainingLoss - ls.reduce((a, b) => a + b) / 12) < 1e-9);
  // eval_loss: the mean over batches of each batch's mean token loss, weighted by rows
  const manual = await trainer.evaluate();
  const ev = dataset(5, 9);
  model.eval();
  let sum = 0;
  for (const [s, e] of [[0, 3], [3, 5]]) {
    const rows = ev.slice(s, e);
    const T = Math.max(...rows.map((r) => r.input_ids.length));
    const ids = rows.map((r) => [...r.input_ids, ...new Array(T - r.input_ids.length).fill(0)]);
    const loss = model.forward({ inputIds: ids, attentionMask: ids.map((r, i) => r.map((_, t) => (t < rows[i].input_ids.length ? 1 : 0))), labels: ids.map((r) => r.map((x) => (x === 0 ? -100 : x))) }).loss!;
    sum += loss.dataSync()[0] * rows.length;
    loss.dispose();
  }
  assert.ok(Math.abs(manual.eval_loss - sum / 5) < 1e-6);
  trainer.optimizer!.dispose();
  model.dispose();
});

test('resume: 3 steps, interrupt, resume 3 gives the same losses as 6 straight (dropout on, modules_to_save, accumulation, length grouping, 8-bit AdamW)', async () => {
  await ensureBackend();
  const o: Partial<TrainingArgumentsOptions> = { optim: 'paged_adamw_8bit', saveStrategy: 'steps', saveSteps: 3, groupByLength: true };
  const straight = loraModel(0.2, ['lm_head']);
  const t1 = new Trainer({ model: straight, args: args(tmp(), o), trainDataset: dataset(10) });
  await t1.train();
  const want = losses(t1.state.logHistory);

  const dir = tmp();
  const controller = new AbortController();
  const first = loraModel(0.2, ['lm_head']);
  const stopAt3: TrainerCallback = { onStepEnd: (_a, s) => { if (s.globalStep === 3) controller.abort(); } };
  const t2 = new Trainer({ model: first, args: args(dir, o), trainDataset: dataset(10), callbacks: [stopAt3] });
  const part = await t2.train({ signal: controller.signal });
  assert.equal(part.interrupted, true);
  assert.equal(t2.state.globalStep, 3);
  const ck = path.join(dir, 'checkpoint-3');
  assert.deepEqual(fs.readdirSync(ck).sort(), ['adapter_config.json', 'adapter_model.safetensors', 'optimizer.safetensors', 'rng_state.json', 'scheduler.json', 'trainer_state.json', 'training_args.json']);
  const st = JSON.parse(fs.readFileSync(path.join(ck, 'trainer_state.json'), 'utf8'));
  assert.equal(st.global_step, 3);
  assert.equal(st.max_steps, 6);
  assert.equal(st.log_history.length, 3);
  assert.equal(JSON.parse(fs.readFileSync(path.join(ck, 'training_args.json'), 'utf8')).optim, 'paged_adamw_8bit');
  assert.ok(!fs.existsSync(`${ck}.tmp`));

  const resumed = loraModel(0.2, ['lm_head']); // fresh adapters: the checkpoint's must replace them
  const t3 = new Trainer({ model: resumed, args: args(dir, o), trainDataset: dataset(10) });
  const out = await t3.train({ resumeFromCheckpoint: true });
  assert.equal(out.interrupted, false);
  assert.deepEqual(losses(t3.state.logHistory), want);
  assert.deepEqual(t3.state.logHistory.filter((e) => 'grad_norm' in e).map((e) => e.grad_norm), t1.state.logHistory.filter((e) => 'grad_norm' in e).map((e) => e.grad_norm));
  for (const t of [t1, t2, t3]) t.optimizer!.dispose();
  for (const m of [straight, first, resumed]) m.dispose();
});

test('save_total_limit keeps the newest checkpoints; gradient checkpointing trains to the same losses; saveModel; epoch strategies', async () => {
  await ensureBackend();
  const dir = tmp();
  const a = loraModel();
  const t1 = new Trainer({ model: a, args: args(dir, { maxSteps: 4, saveStrategy: 'steps', saveSteps: 1, saveTotalLimit: 2 }), trainDataset: dataset(8) });
  await t1.train();
  assert.deepEqual(fs.readdirSync(dir).sort(), ['checkpoint-3', 'checkpoint-4']);
  const b = loraModel();
  const t2 = new Trainer({ model: b, args: args(tmp(), { maxSteps: 4, gradientCheckpointing: true }), trainDataset: dataset(8) });
  await t2.train();
  assert.equal((b.model as LlamaForCausalLM).isGradientCheckpointing, true);
  const [x, y] = [losses(t1.state.logHistory), losses(t2.state.logHistory)];
  x.forEach((v, i) => assert.ok(Math.abs(v - y[i]) < 1e-5, `step ${i + 1}: ${v} vs ${y[i]}`));
  const noCkpt = loraModel();
  await assert.rejects(new Trainer({ model: noCkpt, args: args(tmp()), trainDataset: dataset(8) }).train({ resumeFromCheckpoint: true }), /holds no checkpoint-N directory/);
  assert.throws(() => new Trainer({ model: noCkpt, args: args(tmp(), { evalStrategy: 'steps' }), trainDataset: dataset(8) }), /`eval_strategy` is 'steps' but no `evalDataset` was passed/);
  noCkpt.dispose();
  const saved = tmp();
  await t1.saveModel(saved);
  assert.deepEqual(fs.readdirSync(saved).sort(), ['adapter_config.json', 'adapter_model.safetensors']);
  // epoch strategies: 8 rows, batch 2, accumulation 2 → 2 steps an epoch
  const c = loraModel();
  const t3 = new Trainer({ model: c, args: args(tmp(), { maxSteps: -1, numTrainEpochs: 2, loggingStrategy: 'epoch', evalStrategy: 'epoch', saveStrategy: 'epoch' }), trainDataset: dataset(8), evalDataset: dataset(2, 4) });
  await t3.train();
  assert.deepEqual(t3.state.logHistory.filter((e) => 'loss' in e).map((e) => [e.step, e.epoch]), [[2, 1], [4, 2]]);
  assert.deepEqual(t3.state.logHistory.filter((e) => 'eval_loss' in e).map((e) => e.step), [2, 4]);
  assert.deepEqual(fs.readdirSync(t3.args.outputDir).sort(), ['checkpoint-2', 'checkpoint-4']);
  for (const t of [t1, t2, t3]) t.optimizer!.dispose();
  a.dispose();
  b.dispose();
  c.dispose();
});

test('full fine-tuning trains every parameter of a plain model; a NaN loss stops with the step named', async () => {
  await ensureBackend();
  const model = LlamaForCausalLM.fromConfig(TINY, { seed: 3 });
  const w0 = model.model.layers[0].mlp.up_proj.forward(tf.ones([1, 32])).dataSync().slice();
  const trainer = new Trainer({ model, args: args(tmp(), { maxSteps: 3, learningRate: 3e-3 }), trainDataset: dataset(8) });
  await trainer.train();
  assert.equal(trainer.optimizer!.params.length, model.parameters().length);
  const w1 = model.model.layers[0].mlp.up_proj.forward(tf.ones([1, 32])).dataSync();
  assert.ok(w1.some((v, i) => v !== w0[i]));
  trainer.optimizer!.dispose();

  // full fine-tuning resumes too (tied embeddings: one variable, saved once)
  const tied = () => LlamaForCausalLM.fromConfig({ ...TINY, tieWordEmbeddings: true }, { seed: 4 });
  const full = { maxSteps: 4, learningRate: 3e-3, saveStrategy: 'steps' as const, saveSteps: 2 };
  const straight = new Trainer({ model: tied(), args: args(tmp(), full), trainDataset: dataset(8) });
  await straight.train();
  const dir = tmp();
  const stop = new AbortController();
  const halves = new Trainer({ model: tied(), args: args(dir, full), trainDataset: dataset(8), callbacks: [{ onStepEnd: (_a, s) => { if (s.globalStep === 2) stop.abort(); } }] });
  assert.equal((await halves.train({ signal: stop.signal })).interrupted, true);
  const resumed = new Trainer({ model: tied(), args: args(dir, full), trainDataset: dataset(8) });
  await resumed.train({ resumeFromCheckpoint: path.join(dir, 'checkpoint-2') });
  assert.deepEqual(losses(resumed.state.logHistory), losses(straight.state.logHistory));
  for (const t of [straight, halves, resumed]) { t.optimizer!.dispose(); t.model.dispose(); }

  const peft = loraModel();
  const head = (peft.model as LlamaForCausalLM).lm_head as unknown as { weight: tf.Variable };
  const nan = tf.fill(head.weight.shape, Number.NaN);
  head.weight.assign(nan);
  nan.dispose();
  const t = new Trainer({ model: peft, args: args(tmp()), trainDataset: Dataset.fromList(dataset(8)) });
  await assert.rejects(t.train(), (e: Error) => e instanceof TrainingError && /the loss is NaN at step 1 \(epoch 1\)/.test(e.message));
  t.optimizer!.dispose();
  peft.dispose();
  model.dispose();
});

test('progress: a live table updated in place inside a notebook, transformers-style log lines outside', async () => {
  await ensureBackend();
  const model = loraModel();
  const shown: Array<{ bundle: Record<string, unknown>; options?: { displayId?: string; update?: boolean } }> = [];
  const sink = { display: (bundle: Record<string, unknown>, options?: { displayId?: string; update?: boolean }) => { shown.push({ bundle, options }); }, clear: () => undefined };
  const g = globalThis as Record<symbol, unknown>;
  g[Symbol.for('Jupyter.displaySink')] = sink;
  const live = new Trainer({ model, args: args(tmp(), { maxSteps: 2, disableTqdm: false }), trainDataset: dataset(8) });
  try {
    await live.train();
  } finally {
    live.optimizer?.dispose();
    delete g[Symbol.for('Jupyter.displaySink')];
  }
  assert.ok(shown.length >= 2);
  assert.equal(shown[0].options?.update, false);
  assert.ok(shown.slice(1).every((s) => s.options?.update === true && s.options.displayId === shown[0].options?.displayId));
  const last = shown.at(-1)!.bundle;
  assert.match(last['text/html'] as string, /<progress value="2" max="2".*<th>Training Loss<\/th><th>Validation Loss<\/th>.*<td>2<\/td><td>\d+\.\d{6}<\/td><td>No log<\/td>/s);
  assert.match(last['text/plain'] as string, /^\[2\/2 \d\d:\d\d < 00:00, Epoch 1\.00\/1\] 100%/);

  const log = console.log;
  const lines: string[] = [];
  console.log = (m: string) => lines.push(m);
  const printing = new Trainer({ model, args: args(tmp(), { maxSteps: 1, disableTqdm: false }), trainDataset: dataset(8) });
  try {
    await printing.train();
  } finally {
    printing.optimizer?.dispose();
    console.log = log;
  }
  assert.match(lines[0], /^\{'loss': '\d\.\d+', 'grad_norm': '[\d.]+', 'learning_rate': '0', 'tokens_per_second': '[\d.]+', 'epoch': '0\.5'\}$/);
  assert.match(lines[1], /^\{'train_runtime': .*'train_loss': /);
  model.dispose();
});

test('QLoRA as the walkthrough: NF4 base, prepareModelForKbitTraining, LoRA q/k/v with dropout, paged 8-bit AdamW, checkpointing', async () => {
  await ensureBackend();
  let root = __dirname;
  while (!fs.existsSync(path.join(root, 'package.json'))) root = path.dirname(root);
  const base = await AutoModelForCausalLM.fromPretrained(path.join(root, 'test/fixtures/llama/gqa'), { quantizationConfig: new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4', bnb4bitComputeDtype: 'float16' }) });
  assert.ok(base.model.layers[0].self_attn.q_proj instanceof Linear4bit);
  prepareModelForKbitTraining(base);
  const model = getPeftModel(base, new LoraConfig({ r: 8, loraAlpha: 8, loraDropout: 0.05, targetModules: ['q_proj', 'k_proj', 'v_proj', 'dense'], bias: 'none', taskType: 'CAUSAL_LM' }), { warn: false });
  const rows = dataset(12).map((r) => ({ input_ids: r.input_ids.map((t) => t + 60) }));
  const trainer = new Trainer({ model, args: args(tmp(), { maxSteps: 12, perDeviceTrainBatchSize: 1, gradientAccumulationSteps: 4, learningRate: 5e-3, optim: 'paged_adamw_8bit', gradientCheckpointing: true, groupByLength: true, saveStrategy: 'steps', saveSteps: 12 }), trainDataset: rows });
  await trainer.train();
  const ls = losses(trainer.state.logHistory);
  assert.ok(ls.slice(-3).reduce((a, b) => a + b) < ls.slice(0, 3).reduce((a, b) => a + b), `loss should fall: ${ls.map((x) => x.toFixed(3))}`);
  assert.ok(base.model.layers[0].self_attn.q_proj instanceof LoraLinear);
  const files = fs.readdirSync(path.join(trainer.args.outputDir, 'checkpoint-12')).sort();
  assert.ok(files.includes('adapter_model.safetensors') && files.includes('optimizer.safetensors'));
  trainer.optimizer!.dispose();
  model.dispose();
});
