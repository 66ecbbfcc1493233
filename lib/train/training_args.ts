import { ConfigError, show } from '../errors';
import type { GradientCheckpointingKwargs } from '../model/llama';

export type SchedulerType = 'constant' | 'constant_with_warmup' | 'linear' | 'cosine';
/** transformers' names: 32-bit AdamW ('adamw_torch', 'adamw_torch_fused', 'paged_adamw_32bit') or bitsandbytes' 8-bit blockwise AdamW. */
export type OptimName = 'adamw_torch' | 'adamw_torch_fused' | 'paged_adamw_32bit' | 'adamw_8bit' | 'adamw_bnb_8bit' | 'paged_adamw_8bit';
export type IntervalStrategy = 'no' | 'steps' | 'epoch';

/** transformers' TrainingArguments, camelCase; defaults are transformers'. */
export interface TrainingArgumentsOptions {
  outputDir: string;
  overwriteOutputDir?: boolean;
  /** Stop after this many optimizer steps (overrides numTrainEpochs); -1: use numTrainEpochs. */
  maxSteps?: number;
  numTrainEpochs?: number;
  perDeviceTrainBatchSize?: number;
  perDeviceEvalBatchSize?: number;
  gradientAccumulationSteps?: number;
  learningRate?: number;
  lrSchedulerType?: SchedulerType;
  /** Warmup optimizer steps; a value in (0, 1) is a ratio of the total, as transformers 5 reads it. */
  warmupSteps?: number;
  warmupRatio?: number;
  weightDecay?: number;
  adamBeta1?: number;
  adamBeta2?: number;
  adamEpsilon?: number;
  /** Clip the global gradient norm to this (0 or less: no clipping). */
  maxGradNorm?: number;
  optim?: OptimName;
  loggingStrategy?: IntervalStrategy;
  loggingSteps?: number;
  evalStrategy?: IntervalStrategy;
  /** The older name of evalStrategy. */
  evaluationStrategy?: IntervalStrategy;
  /** Default: loggingSteps. */
  evalSteps?: number;
  saveStrategy?: IntervalStrategy;
  saveSteps?: number;
  saveTotalLimit?: number | null;
  seed?: number;
  groupByLength?: boolean;
  gradientCheckpointing?: boolean;
  /**
   * Passed to the model's gradientCheckpointingEnable: `{ layers: n }` recomputes only the first n
   * decoder layers. torch's `use_reentrant` (either spelling) is accepted and changes nothing: each
   * layer is recomputed under its own tape, which is what use_reentrant=False means in torch.
   */
  gradientCheckpointingKwargs?: GradientCheckpointingKwargs | null;
  dataloaderDropLast?: boolean;
  reportTo?: 'none' | 'all' | string[];
  doEval?: boolean;
  /** No progress output (transformers' disable_tqdm): no live table in a notebook, no log lines elsewhere. */
  disableTqdm?: boolean;
}

const CHECKPOINTING_KEYS = ['layers', 'useReentrant', 'use_reentrant'];

const SCHEDULERS: SchedulerType[] = ['constant', 'constant_with_warmup', 'linear', 'cosine'];
const OPTIMS: OptimName[] = ['adamw_torch', 'adamw_torch_fused', 'paged_adamw_32bit', 'adamw_8bit', 'adamw_bnb_8bit', 'paged_adamw_8bit'];
const STRATEGIES: IntervalStrategy[] = ['no', 'steps', 'epoch'];

/** camelCase field → transformers' snake_case name, for messages and training_args.json. */
export function snake(name: string): string {
  return name.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);
}

function fail(field: string, value: unknown, expected: string): never {
  throw new ConfigError(`TrainingArguments: \`${snake(field)}\` should be ${expected} but the value passed is ${show(value)}`);
}

/**
 * The knobs of a training run (transformers' TrainingArguments with camelCase names). Validated on
 * construction: each error names the field (snake_case, as in Python) and the value passed.
 */
export class TrainingArguments implements Required<Omit<TrainingArgumentsOptions, 'evaluationStrategy' | 'saveTotalLimit'>> {
  outputDir: string;
  overwriteOutputDir = false;
  maxSteps = -1;
  numTrainEpochs = 3;
  perDeviceTrainBatchSize = 8;
  perDeviceEvalBatchSize = 8;
  gradientAccumulationSteps = 1;
  learningRate = 5e-5;
  lrSchedulerType: SchedulerType = 'linear';
  warmupSteps = 0;
  warmupRatio = 0;
  weightDecay = 0;
  adamBeta1 = 0.9;
  adamBeta2 = 0.999;
  adamEpsilon = 1e-8;
  maxGradNorm = 1;
  optim: OptimName = 'adamw_torch';
  loggingStrategy: IntervalStrategy = 'steps';
  loggingSteps = 500;
  evalStrategy: IntervalStrategy = 'no';
  evalSteps = 0;
  saveStrategy: IntervalStrategy = 'steps';
  saveSteps = 500;
  saveTotalLimit: number | null = null;
  seed = 42;
  groupByLength = false;
  gradientCheckpointing = false;
  gradientCheckpointingKwargs: GradientCheckpointingKwargs | null = null;
  dataloaderDropLast = false;
  reportTo: 'none' | 'all' | string[] = 'none';
  doEval = false;
  disableTqdm = false;

  constructor(options: TrainingArgumentsOptions) {
    if (options === null || typeof options !== 'object') throw new ConfigError('TrainingArguments: pass an options object with at least `output_dir`');
    const { evaluationStrategy, ...rest } = options;
    for (const [key, value] of Object.entries(rest)) {
      if (!(key in this) && key !== 'outputDir') throw new ConfigError(`TrainingArguments: unknown argument \`${key}\` (${snake(key)})`, 'options are camelCase versions of transformers\' names, e.g. perDeviceTrainBatchSize');
      if (value !== undefined) (this as Record<string, unknown>)[key] = value;
    }
    this.outputDir = options.outputDir;
    if (evaluationStrategy !== undefined && options.evalStrategy === undefined) this.evalStrategy = evaluationStrategy;
    if (options.evalSteps === undefined) this.evalSteps = this.loggingSteps;
    if (options.doEval === undefined) this.doEval = this.evalStrategy !== 'no';
    this.validate();
  }

  private validate(): void {
    if (typeof this.outputDir !== 'string' || this.outputDir === '') fail('outputDir', this.outputDir, 'a directory path');
    const int = (f: keyof this, min: number) => {
      const v = this[f] as unknown;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(f as string, v, `an integer ≥ ${min}`);
    };
    const num = (f: keyof this, ok: (v: number) => boolean, what: string) => {
      const v = this[f] as unknown;
      if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) fail(f as string, v, what);
    };
    const oneOf = <T>(f: keyof this, allowed: T[]) => {
      if (!allowed.includes(this[f] as T)) fail(f as string, this[f], `one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
    };
    if (this.maxSteps !== -1) int('maxSteps', 1);
    num('numTrainEpochs', (v) => v > 0, 'a positive number');
    int('perDeviceTrainBatchSize', 1);
    int('perDeviceEvalBatchSize', 1);
    int('gradientAccumulationSteps', 1);
    num('learningRate', (v) => v >= 0, 'a number ≥ 0');
    oneOf('lrSchedulerType', SCHEDULERS);
    num('warmupSteps', (v) => v >= 0 && (v < 1 || Number.isInteger(v)), 'an integer ≥ 0 (or a ratio in [0, 1))');
    num('warmupRatio', (v) => v >= 0 && v <= 1, 'in [0, 1]');
    num('weightDecay', (v) => v >= 0, 'a number ≥ 0');
    num('adamBeta1', (v) => v >= 0 && v < 1, 'in [0, 1)');
    num('adamBeta2', (v) => v >= 0 && v < 1, 'in [0, 1)');
    num('adamEpsilon', (v) => v >= 0, 'a number ≥ 0');
    num('maxGradNorm', () => true, 'a finite number');
    oneOf('optim', OPTIMS);
    oneOf('loggingStrategy', STRATEGIES);
    oneOf('evalStrategy', STRATEGIES);
    oneOf('saveStrategy', STRATEGIES);
    int('loggingSteps', 1);
    int('evalSteps', 1);
    int('saveSteps', 1);
    if (this.saveTotalLimit !== null) int('saveTotalLimit', 1);
    int('seed', 0);
    const kw = this.gradientCheckpointingKwargs as unknown;
    if (kw !== null && (typeof kw !== 'object' || Array.isArray(kw) || Object.keys(kw as object).some((k) => !CHECKPOINTING_KEYS.includes(k)))) {
      fail('gradientCheckpointingKwargs', kw, "null or { layers: n } (the decoder layers to recompute, from the first; use_reentrant is accepted and ignored)");
    }
    for (const key of ['useReentrant', 'use_reentrant']) {
      const v = (kw as Record<string, unknown> | null)?.[key];
      if (v !== undefined && typeof v !== 'boolean') fail('gradientCheckpointingKwargs.' + key, v, 'true or false (accepted and ignored: each layer recomputes under its own tape)');
    }
    const layers = (kw as { layers?: unknown } | null)?.layers;
    if (layers !== undefined && !(typeof layers === 'number' && Number.isInteger(layers) && layers >= 0)) {
      fail('gradientCheckpointingKwargs.layers', layers, 'an integer ≥ 0 (the decoder layers to recompute, from the first; at most the model\'s)');
    }
    if (this.maxSteps === -1 && this.numTrainEpochs <= 0) fail('numTrainEpochs', this.numTrainEpochs, 'positive when `max_steps` is not set');
    if (this.reportTo !== 'none' && !(Array.isArray(this.reportTo) && this.reportTo.length === 0)) {
      fail('reportTo', this.reportTo, "'none' (qlora-ts reports to callbacks, e.g. the live loss plot)");
    }
  }

  /** Examples per optimizer step: batch size × accumulation steps. */
  get trainBatchSize(): number {
    return this.perDeviceTrainBatchSize;
  }

  /** transformers' get_warmup_steps. */
  warmupStepsFor(numTrainingSteps: number): number {
    if (this.warmupSteps >= 1) return this.warmupSteps;
    const ratio = this.warmupSteps > 0 ? this.warmupSteps : this.warmupRatio;
    return Math.ceil(numTrainingSteps * ratio);
  }

  /** training_args.json: every field under transformers' snake_case name. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(this)) out[snake(key)] = value;
    return out;
  }

  static fromJSON(json: Record<string, unknown>): TrainingArguments {
    const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    const options: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(json)) options[camel(key)] = value;
    return new TrainingArguments(options as unknown as TrainingArgumentsOptions);
  }
}
