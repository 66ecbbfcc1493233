import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../backend';
import { currentSignal } from '../display';
import { ArgumentError, CheckpointError, DatasetError, TrainingError, show } from '../errors';
import { IGNORE_INDEX } from '../nn/cross_entropy';
import type { Module } from '../nn/module';
import { DataCollatorForLanguageModeling, padExamples, type Batch, type CollatorTokenizer, type DataCollator, type Example } from './collator';
import { PREFIX_CHECKPOINT_DIR, lastCheckpoint, loadTrainableWeights, readCheckpoint, rotateCheckpoints, saveCheckpoint, type SaveableModel } from './checkpoint';
import { clipGradNorm, createOptimizer, type Optimizer } from './optim';
import { epochBatches, numBatches } from './sampler';
import { LRScheduler } from './schedule';
import { TrainOutput, TrainerState, type LogEntry, type TrainerCallback } from './state';
import { TrainingArguments } from './training_args';
import type { GradientCheckpointingKwargs } from '../model/llama';
import { variableGradsReleasing } from './grads';
import { defaultProgressCallback } from './progress';

/** Rows with `input_ids` (number[]): a plain array, or anything with `length` and `get(i)` (the Dataset class). */
export type TrainerDataset = ReadonlyArray<Record<string, unknown>> | { length: number; get(i: number): Record<string, unknown> };

/** What the Trainer needs of a model: LlamaForCausalLM, or a PeftModel around one. */
export type TrainableModel = SaveableModel & {
  forward(args: { inputIds: number[][]; attentionMask?: number[][]; labels?: number[][]; returnLogits?: boolean }): { logits?: tf.Tensor; loss?: tf.Scalar };
};

export interface TrainerOptions {
  model: TrainableModel;
  args: TrainingArguments;
  trainDataset?: TrainerDataset;
  evalDataset?: TrainerDataset;
  /** Default: DataCollatorForLanguageModeling with the tokenizer, or right padding with id 0 without one. */
  dataCollator?: DataCollator;
  tokenizer?: CollatorTokenizer & { savePretrained?(dir: string): Promise<void> | void };
  callbacks?: TrainerCallback[];
}

let pagedNoticeShown = false;

/** Row i; the collator checks that it holds `input_ids`. */
function rowAt(ds: TrainerDataset, i: number): Example {
  return ('get' in ds && typeof ds.get === 'function' ? ds.get(i) : (ds as ReadonlyArray<Record<string, unknown>>)[i]) as Example;
}

/** Tokens that carry a loss: labels not -100 after the causal shift (position t predicts t + 1). */
function countLabelTokens(batch: Batch): number {
  let n = 0;
  for (const row of batch.labels) for (let t = 1; t < row.length; t++) if (row[t] !== IGNORE_INDEX) n++;
  return n;
}

/**
 * transformers' Trainer for causal-LM fine-tuning (LoRA/QLoRA adapters, or every trainable
 * parameter of a plain model): seeded shuffling or length grouping, gradient accumulation with the
 * loss normalised over all label tokens of the accumulated batch, global-norm clipping, AdamW or
 * 8-bit AdamW, a learning-rate schedule, logging/eval/save by steps or epochs, checkpoints that
 * resume to the same losses, and an interrupt that stops at a step boundary and saves.
 */
export class Trainer {
  readonly model: TrainableModel;
  readonly args: TrainingArguments;
  trainDataset?: TrainerDataset;
  evalDataset?: TrainerDataset;
  readonly dataCollator: DataCollator;
  readonly tokenizer?: TrainerOptions['tokenizer'];
  readonly callbacks: TrainerCallback[];
  state: TrainerState = new TrainerState();
  optimizer?: Optimizer;
  lrScheduler?: LRScheduler;
  /** The progress display of the current train() (chosen then: a live table inside a notebook cell). */
  private progress: TrainerCallback[] = [];

  constructor(options: TrainerOptions) {
    if (!options?.model || typeof options.model.forward !== 'function') throw new ArgumentError('Trainer: `model` must be a model with forward() (LlamaForCausalLM or a PeftModel)');
    if (!(options.args instanceof TrainingArguments)) throw new ArgumentError('Trainer: `args` must be a TrainingArguments', "new TrainingArguments({ outputDir: './out', maxSteps: 100 })");
    this.model = options.model;
    this.args = options.args;
    this.trainDataset = options.trainDataset;
    this.evalDataset = options.evalDataset;
    this.tokenizer = options.tokenizer;
    this.callbacks = options.callbacks ?? [];
    this.dataCollator = options.dataCollator ?? (options.tokenizer ? DataCollatorForLanguageModeling({ tokenizer: options.tokenizer, mlm: false }) : (ex) => padExamples(ex, 0, 'right'));
    if (this.args.evalStrategy !== 'no' && !this.evalDataset) {
      throw new ArgumentError(`Trainer: \`eval_strategy\` is '${this.args.evalStrategy}' but no \`evalDataset\` was passed`, "pass evalDataset, or evalStrategy: 'no'");
    }
    if (this.args.optim.startsWith('paged_') && !pagedNoticeShown) {
      pagedNoticeShown = true;
      console.info(tf.getBackend() === 'cuda'
        ? `optim '${this.args.optim}': the optimizer state stays in GPU memory, never paged to the host (bitsandbytes pages it only when GPU memory runs out); otherwise the same AdamW.`
        : `optim '${this.args.optim}': paging optimizer state between GPU and host memory has no meaning on CPU; using the same AdamW without paging.`);
    }
  }

  /** The trainable parameters, each once (a tied weight is one variable), in module order. */
  private namedTrainable(): Array<[string, tf.Variable]> {
    const seen = new Set<tf.Variable>();
    return this.model.namedParameters().filter(([, p]) => p.trainable && !seen.has(p) && seen.add(p) !== undefined);
  }

  /** Turns gradient checkpointing on wherever the model (or the base model inside a PeftModel) offers it. */
  private enableGradientCheckpointing(): void {
    const target = this.model.namedModules().map(([, m]) => m as Module & { gradientCheckpointingEnable?: (kwargs?: GradientCheckpointingKwargs) => void }).find((m) => typeof m.gradientCheckpointingEnable === 'function');
    if (!target) throw new ArgumentError('`gradient_checkpointing` is true, but the model has no gradientCheckpointingEnable()');
    target.gradientCheckpointingEnable!(this.args.gradientCheckpointingKwargs ?? undefined);
  }

  /** LoRA dropout counters (the only RNG state the model keeps), by module name. */
  private rngState(epoch: number): Record<string, unknown> {
    const dropout: Record<string, number> = {};
    for (const [name, m] of this.model.namedModules()) {
      const calls = (m as unknown as { dropoutCalls?: unknown }).dropoutCalls;
      if (typeof calls === 'number') dropout[name] = calls;
    }
    return { seed: this.args.seed, epoch, global_step: this.state.globalStep, dropout_calls: dropout };
  }

  private restoreRng(rng: Record<string, unknown>): void {
    const dropout = (rng.dropout_calls ?? {}) as Record<string, number>;
    for (const [name, m] of this.model.namedModules()) if (name in dropout) (m as unknown as { dropoutCalls: number }).dropoutCalls = dropout[name];
  }

  /** One epoch's micro-batches (row indices): seeded shuffle, or length groups with group_by_length. */
  private epochBatches(ds: TrainerDataset, epoch: number): number[][] {
    const { perDeviceTrainBatchSize: batchSize, gradientAccumulationSteps, seed, dataloaderDropLast: dropLast, groupByLength } = this.args;
    const lengths = groupByLength ? Array.from({ length: ds.length }, (_, i) => rowAt(ds, i).input_ids.length) : undefined;
    return epochBatches(ds.length, epoch, { batchSize, gradientAccumulationSteps, seed, dropLast, lengths });
  }

  private async emit<K extends keyof TrainerCallback>(hook: K, ...rest: unknown[]): Promise<void> {
    for (const cb of [...this.callbacks, ...this.progress]) {
      const fn = cb[hook] as ((...a: unknown[]) => void | Promise<void>) | undefined;
      if (fn) await fn.call(cb, this.args, this.state, ...rest);
    }
  }

  private async log(logs: LogEntry): Promise<void> {
    const entry = { ...logs, epoch: this.state.epoch, step: this.state.globalStep };
    this.state.logHistory.push(entry);
    await this.emit('onLog', entry);
  }

  /**
   * Trains until maxSteps (or numTrainEpochs). `resumeFromCheckpoint`: true for the newest
   * checkpoint-N under outputDir, or a directory. `signal` (default: the running notebook cell's)
   * stops at the next step boundary, saves a checkpoint and returns with `interrupted` set.
   */
  async train(options: { resumeFromCheckpoint?: boolean | string; signal?: AbortSignal } = {}): Promise<TrainOutput> {
    await ensureBackend();
    const args = this.args;
    const ds = this.trainDataset;
    if (!ds || typeof ds.length !== 'number') throw new DatasetError('Trainer.train: no `trainDataset` (rows with `input_ids`)', 'pass trainDataset to new Trainer({ … })');
    const signal = options.signal ?? currentSignal();
    const bs = args.perDeviceTrainBatchSize;
    const ga = args.gradientAccumulationSteps;
    const batchesPerEpoch = numBatches(ds.length, bs, args.dataloaderDropLast);
    if (batchesPerEpoch === 0) throw new DatasetError(`Trainer.train: the training set has ${ds.length} rows, fewer than one batch of ${bs}`, 'lower `per_device_train_batch_size` or set `dataloader_drop_last` false');
    const updatesPerEpoch = Math.ceil(batchesPerEpoch / ga);
    const maxSteps = args.maxSteps > 0 ? args.maxSteps : Math.ceil(args.numTrainEpochs * updatesPerEpoch);
    const numEpochs = Math.ceil(maxSteps / updatesPerEpoch);

    const named = this.namedTrainable();
    if (named.length === 0) throw new TrainingError('Trainer.train: the model has no trainable parameters', 'wrap it with getPeftModel(model, loraConfig), or unfreeze some parameters');
    const params = named.map(([, p]) => p);
    this.optimizer?.dispose();
    const optimizer = (this.optimizer = createOptimizer(args, named));
    const scheduler = (this.lrScheduler = new LRScheduler(args.learningRate, args.lrSchedulerType, args.warmupStepsFor(maxSteps), maxSteps));
    this.state = TrainerState.forArgs(args, maxSteps, numEpochs);
    if (args.gradientCheckpointing) this.enableGradientCheckpointing();

    if (options.resumeFromCheckpoint) {
      const dir = options.resumeFromCheckpoint === true ? lastCheckpoint(args.outputDir) : options.resumeFromCheckpoint;
      if (!dir) throw new CheckpointError(`Trainer.train: \`resume_from_checkpoint\` is true but ${args.outputDir} holds no ${PREFIX_CHECKPOINT_DIR}-N directory`, 'train once with saving on, or pass the checkpoint directory');
      const ck = await readCheckpoint(dir);
      loadTrainableWeights(this.model, dir);
      optimizer.loadStateDict(ck.optimizer, path.join(dir, 'optimizer.safetensors'));
      scheduler.loadStateDict(ck.scheduler);
      this.restoreRng(ck.rng);
      Object.assign(this.state, { ...ck.state, maxSteps, numTrainEpochs: numEpochs, interrupted: false });
    }

    this.model.train();
    this.progress = args.disableTqdm ? [] : [defaultProgressCallback()];
    await this.emit('onTrainBegin');
    const start = performance.now();
    const startStep = this.state.globalStep;
    let trLoss = 0;
    let totalLoss = 0;
    let lastLogged = this.state.globalStep;
    let logTokens = 0;
    let logStart = start;
    let lastSaved = -1;
    let interrupted = false;

    for (let epoch = Math.floor(this.state.globalStep / updatesPerEpoch); epoch < numEpochs && !interrupted; epoch++) {
      const batches = this.epochBatches(ds, epoch);
      for (let u = this.state.globalStep - epoch * updatesPerEpoch; u < updatesPerEpoch && this.state.globalStep < maxSteps; u++) {
        const micro = batches.slice(u * ga, (u + 1) * ga).map((idx) => this.dataCollator(idx.map((i) => rowAt(ds, i))));
        const { loss: stepLoss, grads: acc, tokens } = this.accumulate(micro, params);
        logTokens += tokens;
        this.state.numInputTokensSeen += tokens;
        if (!Number.isFinite(stepLoss)) {
          tf.dispose(acc);
          throw new TrainingError(`Trainer: the loss is ${stepLoss} at step ${this.state.globalStep + 1} (epoch ${epoch + 1})`, 'lower `learning_rate`, check the labels (all -100?) and the data for empty rows, or clip with `max_grad_norm`');
        }
        const { norm, grads } = clipGradNorm(acc, args.maxGradNorm);
        const lr = scheduler.lr;
        optimizer.step(grads, lr);
        tf.dispose(grads === acc ? acc : [...acc, ...grads]);
        scheduler.step();
        this.state.globalStep++;
        this.state.epoch = epoch + (u + 1) / updatesPerEpoch;
        trLoss += stepLoss;
        totalLoss += stepLoss;
        await this.emit('onStepEnd');

        const step = this.state.globalStep;
        const epochEnd = u + 1 === updatesPerEpoch || step === maxSteps;
        if ((args.loggingStrategy === 'steps' && step % args.loggingSteps === 0) || (args.loggingStrategy === 'epoch' && epochEnd)) {
          const now = performance.now();
          await this.log({ loss: trLoss / (step - lastLogged), grad_norm: norm, learning_rate: lr, tokens_per_second: logTokens / ((now - logStart) / 1000) });
          trLoss = 0;
          lastLogged = step;
          logTokens = 0;
          logStart = performance.now();
        }
        if (this.evalDataset && ((args.evalStrategy === 'steps' && step % args.evalSteps === 0) || (args.evalStrategy === 'epoch' && epochEnd))) {
          await this.evaluate();
          logStart = performance.now();
        }
        if ((args.saveStrategy === 'steps' && step % args.saveSteps === 0) || (args.saveStrategy === 'epoch' && epochEnd)) {
          await this.saveCheckpoint(epoch);
          lastSaved = step;
        }
        await new Promise((resolve) => setImmediate(resolve)); // let an interrupt arrive
        if (signal?.aborted) {
          this.state.interrupted = interrupted = true;
          if (lastSaved !== step) await this.saveCheckpoint(u + 1 === updatesPerEpoch ? epoch + 1 : epoch);
          break;
        }
      }
    }

    const runtime = (performance.now() - start) / 1000;
    const steps = this.state.globalStep - startStep;
    const metrics: LogEntry = {
      train_runtime: runtime,
      train_samples_per_second: (steps * bs * ga) / runtime,
      train_steps_per_second: steps / runtime,
      train_tokens_per_second: this.state.numInputTokensSeen / runtime,
      total_flos: 0,
      train_loss: steps > 0 ? totalLoss / steps : 0,
    };
    if (!interrupted) await this.log(metrics);
    await this.emit('onTrainEnd');
    return new TrainOutput(this.state.globalStep, metrics.train_loss, metrics, interrupted);
  }

  /**
   * Forward and backward over one optimizer step's micro-batches: each micro-batch's mean loss is
   * weighted by its share of the step's label tokens (transformers' num_items_in_batch), so the
   * summed gradients are those of the mean over all of them. Returns that loss, the gradients
   * (one per parameter, the caller disposes them) and the real (unpadded) tokens seen.
   */
  private accumulate(micro: Batch[], params: tf.Variable[]): { loss: number; grads: tf.Tensor[]; tokens: number } {
    const counts = micro.map(countLabelTokens);
    const total = Math.max(1, counts.reduce((a, b) => a + b, 0));
    let acc: tf.Tensor[] = [];
    let loss = 0;
    let tokens = 0;
    micro.forEach((b, k) => {
      let result: ReturnType<typeof variableGradsReleasing>;
      try {
        result = variableGradsReleasing(() => {
          const out = this.model.forward({ inputIds: b.input_ids, attentionMask: b.attention_mask, labels: b.labels, returnLogits: false });
          if (!out.loss) throw new TrainingError('Trainer: the model returned no loss for a batch with labels');
          return tf.mul(out.loss, counts[k] / total) as tf.Scalar;
        }, params);
      } catch (e) {
        tf.dispose(acc); // the gradients of the earlier micro-batches
        throw e;
      }
      const { value, grads } = result;
      loss += value.dataSync()[0];
      value.dispose();
      const list = params.map((p) => grads[p.name]);
      if (k > 0) {
        const summed = acc.map((a, i) => tf.add(a, list[i]));
        tf.dispose([...acc, ...list]);
        acc = summed;
      } else {
        acc = list;
      }
      tokens += b.attention_mask.reduce((n, row) => n + row.reduce((s, x) => s + x, 0), 0);
    });
    return { loss, grads: acc, tokens };
  }

  /** The mean loss over the evaluation set (each batch's mean token loss weighted by its rows, as transformers). */
  async evaluate(evalDataset: TrainerDataset | undefined = this.evalDataset): Promise<LogEntry> {
    await ensureBackend();
    if (!evalDataset) throw new DatasetError('Trainer.evaluate: no `evalDataset`', 'pass evalDataset to new Trainer({ … }) or to evaluate()');
    const wasTraining = this.model.training;
    this.model.eval();
    const start = performance.now();
    const bs = this.args.perDeviceEvalBatchSize;
    let sum = 0;
    let rows = 0;
    let batches = 0;
    for (let i = 0; i < evalDataset.length; i += bs) {
      const idx = Array.from({ length: Math.min(bs, evalDataset.length - i) }, (_, k) => i + k);
      const b = this.dataCollator(idx.map((j) => rowAt(evalDataset, j)));
      const loss = tf.tidy(() => {
        const out = this.model.forward({ inputIds: b.input_ids, attentionMask: b.attention_mask, labels: b.labels, returnLogits: false });
        return out.loss!.dataSync()[0];
      });
      sum += loss * idx.length;
      rows += idx.length;
      batches++;
    }
    if (wasTraining) this.model.train();
    const runtime = (performance.now() - start) / 1000;
    const metrics: LogEntry = { eval_loss: sum / Math.max(rows, 1), eval_runtime: runtime, eval_samples_per_second: rows / runtime, eval_steps_per_second: batches / runtime };
    await this.log(metrics);
    await this.emit('onEvaluate', metrics);
    return metrics;
  }

  /** Writes checkpoint-<step>/ under outputDir (atomically) and applies save_total_limit. */
  private async saveCheckpoint(epoch: number): Promise<string> {
    const dir = path.join(this.args.outputDir, `${PREFIX_CHECKPOINT_DIR}-${this.state.globalStep}`);
    await saveCheckpoint(dir, { model: this.model, optimizer: this.optimizer!, scheduler: this.lrScheduler!, state: this.state, args: this.args, rng: this.rngState(epoch) });
    await rotateCheckpoints(this.args.outputDir, this.args.saveTotalLimit);
    await this.emit('onSave', dir);
    return dir;
  }

  /** Saves the model (adapter files for a PeftModel) and the tokenizer, when one was given, to `dir` (default outputDir). */
  async saveModel(dir: string = this.args.outputDir): Promise<void> {
    if (typeof dir !== 'string' || dir === '') throw new ArgumentError(`Trainer.saveModel: \`output_dir\` ${show(dir)} is not a directory path`);
    await this.model.savePretrained(dir);
    await this.tokenizer?.savePretrained?.(dir);
  }
}
