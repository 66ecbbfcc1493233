import { ConfigError, show } from '../errors';
import { displaySymbol, type MimeBundle } from '../display';

export type LoraBias = 'none' | 'all' | 'lora_only';
export type InitLoraWeights = boolean | 'gaussian';

export interface LoraConfigOptions {
  /** LoRA rank. */
  r?: number;
  loraAlpha?: number;
  loraDropout?: number;
  /** Exact names or dotted suffixes (`q_proj`), one regex matched against the whole name, or 'all-linear'. */
  targetModules?: string[] | string | null;
  bias?: LoraBias;
  taskType?: 'CAUSAL_LM' | null;
  /** Scale by loraAlpha / √r instead of loraAlpha / r. */
  useRslora?: boolean;
  initLoraWeights?: InitLoraWeights;
  /** Modules trained fully and saved with the adapter (e.g. `lm_head`). */
  modulesToSave?: string[] | null;
  /** Names (exact or dotted suffix) or one regex of modules never to adapt. */
  excludeModules?: string[] | string | null;
  /** Only layers with these indices (`model.layers.<i>.…`). */
  layersToTransform?: number | number[] | null;
  fanInFanOut?: boolean;
  inferenceMode?: boolean;
  baseModelNameOrPath?: string | null;
  revision?: string | null;
}

/**
 * PEFT's LoraConfig with camelCase options; `toJSON()` is adapter_config.json (snake_case, every
 * field PEFT writes) and `fromJSON()` reads PEFT's file. Validation errors read like PEFT's.
 */
export class LoraConfig {
  readonly peftType = 'LORA';
  r: number;
  loraAlpha: number;
  loraDropout: number;
  targetModules: string[] | string | null;
  bias: LoraBias;
  taskType: 'CAUSAL_LM' | null;
  useRslora: boolean;
  initLoraWeights: InitLoraWeights;
  modulesToSave: string[] | null;
  layersToTransform: number | number[] | null;
  excludeModules: string[] | string | null;
  fanInFanOut: boolean;
  inferenceMode: boolean;
  baseModelNameOrPath: string | null;
  revision: string | null;

  constructor(options: LoraConfigOptions = {}) {
    this.r = options.r ?? 8;
    this.loraAlpha = options.loraAlpha ?? 8;
    this.loraDropout = options.loraDropout ?? 0;
    this.targetModules = options.targetModules ?? null;
    this.bias = options.bias ?? 'none';
    this.taskType = options.taskType ?? null;
    this.useRslora = options.useRslora ?? false;
    this.initLoraWeights = options.initLoraWeights ?? true;
    this.modulesToSave = options.modulesToSave ?? null;
    this.layersToTransform = options.layersToTransform ?? null;
    this.excludeModules = options.excludeModules ?? null;
    this.fanInFanOut = options.fanInFanOut ?? false;
    this.inferenceMode = options.inferenceMode ?? false;
    this.baseModelNameOrPath = options.baseModelNameOrPath ?? null;
    this.revision = options.revision ?? null;
    this.validate();
  }

  private validate(): void {
    const bad = (msg: string, hint?: string) => new ConfigError(msg, hint);
    if (!Number.isInteger(this.r) || this.r <= 0) throw bad(`\`r\` should be a positive integer value but the value passed is ${show(this.r)}`);
    if (typeof this.loraAlpha !== 'number' || !Number.isFinite(this.loraAlpha)) throw bad(`\`lora_alpha\` should be a number but the value passed is ${show(this.loraAlpha)}`);
    if (typeof this.loraDropout !== 'number' || !(this.loraDropout >= 0 && this.loraDropout < 1)) throw bad(`\`lora_dropout\` should be in [0, 1) but the value passed is ${show(this.loraDropout)}`);
    if (!['none', 'all', 'lora_only'].includes(this.bias)) throw bad(`\`bias\` should be one of 'none', 'all', 'lora_only' but the value passed is ${show(this.bias)}`);
    if (this.taskType !== null && this.taskType !== 'CAUSAL_LM') throw bad(`\`task_type\` ${show(this.taskType)} is not supported`, "qlora-ts builds causal language models: use taskType 'CAUSAL_LM'.");
    if (![true, false, 'gaussian'].includes(this.initLoraWeights)) throw bad(`\`init_lora_weights\` should be true, false or 'gaussian' but the value passed is ${show(this.initLoraWeights)}`, 'PiSSA, OLoRA, EVA and LoftQ initialisations are not implemented.');
    const t = this.targetModules;
    if (t !== null && typeof t !== 'string' && !(Array.isArray(t) && t.every((s) => typeof s === 'string'))) {
      throw bad(`\`target_modules\` should be a list of module names, a regex string or 'all-linear' but the value passed is ${show(t)}`);
    }
    if (Array.isArray(t) && t.length === 0) throw bad('`target_modules` is an empty list: no module would get an adapter.', "List names such as ['q_proj', 'v_proj'], or pass 'all-linear'.");
    if (typeof t === 'string' && this.layersToTransform !== null) throw bad('`layers_to_transform` cannot be used when `target_modules` is a str.');
    const l = this.layersToTransform;
    if (l !== null && !Number.isInteger(l) && !(Array.isArray(l) && l.every(Number.isInteger))) throw bad(`\`layers_to_transform\` should be an integer or a list of integers but the value passed is ${show(l)}`);
    const x = this.excludeModules;
    if (x !== null && typeof x !== 'string' && !(Array.isArray(x) && x.every((s) => typeof s === 'string'))) throw bad(`\`exclude_modules\` should be a list of module names or a regex string but the value passed is ${show(x)}`);
    if (this.modulesToSave !== null && !(Array.isArray(this.modulesToSave) && this.modulesToSave.every((s) => typeof s === 'string'))) {
      throw bad(`\`modules_to_save\` should be a list of module names but the value passed is ${show(this.modulesToSave)}`);
    }
  }

  /** alpha / r, or alpha / √r with rsLoRA. */
  get scaling(): number {
    return this.useRslora ? this.loraAlpha / Math.sqrt(this.r) : this.loraAlpha / this.r;
  }

  /** Renders like Python's repr in a notebook: `LoraConfig(r=32, lora_alpha=32, …)`. */
  [displaySymbol](): MimeBundle {
    const j = this.toJSON();
    const keys = ['task_type', 'r', 'lora_alpha', 'lora_dropout', 'target_modules', 'bias', 'use_rslora', 'modules_to_save', 'layers_to_transform', 'inference_mode'];
    return { 'text/plain': `LoraConfig(${keys.map((k) => `${k}=${JSON.stringify(j[k])}`).join(', ')})` };
  }

  /** adapter_config.json as PEFT writes it (keys sorted). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {
      alpha_pattern: {}, auto_mapping: null, base_model_name_or_path: this.baseModelNameOrPath, bias: this.bias,
      exclude_modules: Array.isArray(this.excludeModules) ? [...this.excludeModules] : this.excludeModules, fan_in_fan_out: this.fanInFanOut, inference_mode: this.inferenceMode,
      init_lora_weights: this.initLoraWeights, layer_replication: null, layers_pattern: null,
      layers_to_transform: this.layersToTransform, loftq_config: {}, lora_alpha: this.loraAlpha, lora_bias: false,
      lora_dropout: this.loraDropout, megatron_config: null, megatron_core: 'megatron.core', modules_to_save: this.modulesToSave,
      peft_type: this.peftType, r: this.r, rank_pattern: {}, revision: this.revision,
      target_modules: Array.isArray(this.targetModules) ? [...this.targetModules] : this.targetModules,
      task_type: this.taskType, use_dora: false, use_rslora: this.useRslora,
    };
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  /** Reads adapter_config.json (ours or Python PEFT's); `file` names it in errors. */
  static fromJSON(json: Record<string, unknown>, file = 'adapter_config.json'): LoraConfig {
    if (json.peft_type !== undefined && json.peft_type !== 'LORA') throw new ConfigError(`${file}: \`peft_type\` is ${show(json.peft_type)}; only 'LORA' adapters are supported.`);
    const unsupported: Array<[string, (v: unknown) => boolean]> = [
      ['use_dora', (v) => v === true], ['use_qalora', (v) => v === true], ['lora_bias', (v) => v === true],
      ['target_parameters', (v) => v != null], ['trainable_token_indices', (v) => v != null],
      ['layer_replication', (v) => v != null], ['layers_pattern', (v) => v != null && !(Array.isArray(v) && v.length === 0)],
    ];
    for (const [key, used] of unsupported) {
      if (used(json[key])) throw new ConfigError(`${file}: \`${key}\` is ${JSON.stringify(json[key])}, which qlora-ts does not support.`, 'Plain LoRA adapters (r, lora_alpha, target_modules, optionally use_rslora, modules_to_save, layers_to_transform) load.');
    }
    for (const key of ['rank_pattern', 'alpha_pattern']) {
      const v = json[key];
      if (v && typeof v === 'object' && Object.keys(v).length > 0) throw new ConfigError(`${file}: \`${key}\` ${JSON.stringify(v)} is not supported.`, 'Use one rank and alpha for every target module.');
    }
    try {
      return new LoraConfig({
        r: json.r as number, loraAlpha: json.lora_alpha as number, loraDropout: (json.lora_dropout as number | undefined) ?? 0,
        targetModules: json.target_modules as string[] | string | null, bias: (json.bias as LoraBias | undefined) ?? 'none',
        taskType: (json.task_type as 'CAUSAL_LM' | null | undefined) ?? null, useRslora: Boolean(json.use_rslora),
        initLoraWeights: (json.init_lora_weights as InitLoraWeights | undefined) ?? true,
        modulesToSave: (json.modules_to_save as string[] | null | undefined) ?? null,
        layersToTransform: (json.layers_to_transform as number[] | null | undefined) ?? null,
        excludeModules: (json.exclude_modules as string[] | string | null | undefined) ?? null,
        fanInFanOut: Boolean(json.fan_in_fan_out), inferenceMode: Boolean(json.inference_mode),
        baseModelNameOrPath: (json.base_model_name_or_path as string | null | undefined) ?? null,
        revision: (json.revision as string | null | undefined) ?? null,
      });
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`${file}: ${e.message}`);
      throw e;
    }
  }
}
