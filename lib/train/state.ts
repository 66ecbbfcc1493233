import { displaySymbol, type MimeBundle } from '../display';
import type { TrainingArguments } from './training_args';

/** One entry of the log history: transformers' keys (loss, grad_norm, learning_rate, epoch, step, eval_loss, …). */
export type LogEntry = Record<string, number>;

/**
 * transformers' TrainerState: where training stands. trainer_state.json keeps its snake_case keys
 * (`global_step`, `log_history`, …), so the file reads like one written by transformers.
 */
export class TrainerState {
  epoch = 0;
  globalStep = 0;
  maxSteps = 0;
  numTrainEpochs = 0;
  loggingSteps = 500;
  evalSteps = 500;
  saveSteps = 500;
  trainBatchSize = 8;
  numInputTokensSeen = 0;
  totalFlos = 0;
  logHistory: LogEntry[] = [];
  bestMetric: number | null = null;
  bestModelCheckpoint: string | null = null;
  /** True when train() stopped early on an interrupt (the AbortSignal), after saving a checkpoint. */
  interrupted = false;

  static forArgs(args: TrainingArguments, maxSteps: number, numTrainEpochs: number): TrainerState {
    const s = new TrainerState();
    s.maxSteps = maxSteps;
    s.numTrainEpochs = numTrainEpochs;
    s.loggingSteps = args.loggingSteps;
    s.evalSteps = args.evalSteps;
    s.saveSteps = args.saveSteps;
    s.trainBatchSize = args.perDeviceTrainBatchSize;
    return s;
  }

  toJSON(): Record<string, unknown> {
    return {
      best_global_step: null,
      best_metric: this.bestMetric,
      best_model_checkpoint: this.bestModelCheckpoint,
      epoch: this.epoch,
      eval_steps: this.evalSteps,
      global_step: this.globalStep,
      interrupted: this.interrupted,
      is_hyper_param_search: false,
      is_local_process_zero: true,
      is_world_process_zero: true,
      log_history: this.logHistory,
      logging_steps: this.loggingSteps,
      max_steps: this.maxSteps,
      num_input_tokens_seen: this.numInputTokensSeen,
      num_train_epochs: this.numTrainEpochs,
      save_steps: this.saveSteps,
      stateful_callbacks: {},
      total_flos: this.totalFlos,
      train_batch_size: this.trainBatchSize,
      trial_name: null,
      trial_params: null,
    };
  }

  static fromJSON(json: Record<string, unknown>): TrainerState {
    const s = new TrainerState();
    const num = (k: string, d: number) => (typeof json[k] === 'number' ? (json[k] as number) : d);
    s.epoch = num('epoch', 0);
    s.globalStep = num('global_step', 0);
    s.maxSteps = num('max_steps', 0);
    s.numTrainEpochs = num('num_train_epochs', 0);
    s.loggingSteps = num('logging_steps', 500);
    s.evalSteps = num('eval_steps', 500);
    s.saveSteps = num('save_steps', 500);
    s.trainBatchSize = num('train_batch_size', 8);
    s.numInputTokensSeen = num('num_input_tokens_seen', 0);
    s.totalFlos = num('total_flos', 0);
    s.logHistory = Array.isArray(json.log_history) ? (json.log_history as LogEntry[]).map((e) => ({ ...e })) : [];
    s.bestMetric = typeof json.best_metric === 'number' ? json.best_metric : null;
    s.bestModelCheckpoint = typeof json.best_model_checkpoint === 'string' ? json.best_model_checkpoint : null;
    return s;
  }
}

/** transformers' TrainerCallback: every hook optional, awaited in order. */
export interface TrainerCallback {
  onTrainBegin?(args: TrainingArguments, state: TrainerState): void | Promise<void>;
  onStepEnd?(args: TrainingArguments, state: TrainerState): void | Promise<void>;
  onLog?(args: TrainingArguments, state: TrainerState, logs: LogEntry): void | Promise<void>;
  onEvaluate?(args: TrainingArguments, state: TrainerState, metrics: LogEntry): void | Promise<void>;
  onSave?(args: TrainingArguments, state: TrainerState, checkpointDir: string): void | Promise<void>;
  onTrainEnd?(args: TrainingArguments, state: TrainerState): void | Promise<void>;
}

/** What train() returns: transformers' TrainOutput (plus whether it was interrupted), shown as Python prints it. */
export class TrainOutput {
  constructor(readonly globalStep: number, readonly trainingLoss: number, readonly metrics: LogEntry, readonly interrupted: boolean) {}

  toString(): string {
    const metrics = Object.entries(this.metrics).map(([k, v]) => `'${k}': ${v}`).join(', ');
    return `TrainOutput(global_step=${this.globalStep}, training_loss=${this.trainingLoss}, metrics={${metrics}}${this.interrupted ? ', interrupted=True' : ''})`;
  }

  [displaySymbol](): MimeBundle {
    return { 'text/plain': this.toString() };
  }
}
