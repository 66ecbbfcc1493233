import * as tf from '@tensorflow/tfjs-core';
import { ArgumentError, ConfigError } from '../errors';
import { displaySymbol, type MimeBundle } from '../display';
import { Module } from '../nn/module';
import { moduleRepr } from '../nn/repr';
import { Linear } from '../nn/linear';
import { Linear4bit } from '../quant/linear4bit';
import { quantize4bit } from '../quant/quant_state';
import { LoraConfig } from './config';
import { LoraLinear } from './layer';
import { mixSeed } from '../nn/seed';
import { findTargets } from './inject';
import { ModulesToSaveWrapper } from './modules_to_save';
import { formatTrainableParameters, nbTrainableParameters, parameterCounts } from './count';
import { loadAdapter, saveAdapter } from './save';

/** What PeftModel needs of a base model: a module with forward (LlamaForCausalLM). */
export type BaseModel = Module & { forward(args: never): unknown };

/** PEFT's LoraModel: holds the base model as `model`, so parameter names read `base_model.model.…`. */
export class LoraModel<M extends BaseModel> extends Module {
  constructor(public model: M) {
    super();
  }
}

export interface GetPeftModelOptions {
  /** Seeds the adapters' initialisation (lora_A, layer by layer) and their dropout masks. Default 0. */
  seed?: number;
  /** Print the warnings about unmatched targets (default true); they are kept in `peft.warnings` too. */
  warn?: boolean;
}

/**
 * PEFT's PeftModelForCausalLM: the base model with LoRA adapters on the target linears, everything
 * else frozen. forward/generate/config pass through to the base model.
 */
export class PeftModel<M extends BaseModel = BaseModel> extends Module {
  base_model: LoraModel<M>;
  readonly peftConfig: { default: LoraConfig };
  readonly activeAdapter = 'default';
  /** Warnings raised while injecting (e.g. a listed target module that matched nothing). */
  readonly warnings: string[];
  private unloaded = false;

  constructor(model: M, config: LoraConfig, options: GetPeftModelOptions = {}) {
    super();
    const { targets, warnings } = findTargets(model, config);
    const saved = this.modulesToSaveNames(model, config); // validated before the model changes
    this.warnings = warnings;
    if (options.warn ?? true) for (const w of warnings) console.warn(`UserWarning: ${w}`);
    for (const [, p] of model.namedParameters()) p.trainable = false;
    const seed = options.seed ?? 0;
    targets.forEach((name, i) => {
      const base = model.getSubmodule(name) as unknown as Linear;
      if (config.fanInFanOut) warnings.push(`fan_in_fan_out is set to True but the target module \`${name}\` is a linear layer. Setting fan_in_fan_out to False.`);
      model.setSubmodule(name, new LoraLinear(base, { ...config, seed: mixSeed(seed, i) }));
    });
    if (config.fanInFanOut) config.fanInFanOut = false;
    for (const name of saved) model.setSubmodule(name, new ModulesToSaveWrapper(model.getSubmodule(name)));
    this.base_model = new LoraModel(model);
    this.peftConfig = { default: config };
    this.markTrainable();
  }

  /** Modules named (exactly or as a dotted suffix) in `modules_to_save`; one that matches nothing is an error. */
  private modulesToSaveNames(model: M, config: LoraConfig): string[] {
    const wanted = config.modulesToSave ?? [];
    const names = model.namedModules().map(([n]) => n).filter((n) => n !== '');
    const out: string[] = [];
    for (const w of wanted) {
      const hits = names.filter((n) => n === w || n.endsWith(`.${w}`));
      if (hits.length === 0) throw new ConfigError(`\`modules_to_save\` lists ${JSON.stringify(w)}, which matches no module of the model.`, `Top-level modules: ${JSON.stringify(names.filter((n) => !n.includes('.')))}.`);
      out.push(...hits);
    }
    return out;
  }

  /** PEFT's _mark_only_adapters_as_trainable plus `bias` and `modules_to_save`. */
  private markTrainable(): void {
    const config = this.peftConfig.default;
    const trainable = !config.inferenceMode;
    for (const [name, p] of this.model.namedParameters()) {
      const isLora = /\.lora_[AB]\./.test(name);
      const isBias = name.endsWith('.bias') || name === 'bias';
      const saved = /(^|\.)modules_to_save\.default\./.test(name);
      const loraOnlyBias = config.bias === 'lora_only' && /\.base_layer\.bias$/.test(name);
      p.trainable = trainable && (isLora || saved || (config.bias === 'all' && isBias) || loraOnlyBias);
    }
  }

  /** The wrapped base model (its LoRA layers in place). */
  get model(): M {
    if (this.unloaded) throw new ArgumentError('This PeftModel was unloaded by mergeAndUnload(); use the model it returned.');
    return this.base_model.model;
  }

  /** The base model's config (config.json fields). */
  get config(): unknown {
    return (this.model as unknown as { config?: unknown }).config;
  }

  forward(args: Parameters<M['forward']>[0]): ReturnType<M['forward']> {
    return this.model.forward(args as never) as ReturnType<M['forward']>;
  }

  /** The base model's generate() (same options and result), adapters applied. */
  generate(...args: M extends { generate: (...a: infer A) => unknown } ? A : never[]): M extends { generate: (...a: never[]) => infer R } ? R : never {
    const g = (this.model as unknown as { generate?: (...a: unknown[]) => unknown }).generate;
    if (typeof g !== 'function') throw new ArgumentError('The base model has no generate() method.');
    return g.apply(this.model, args) as M extends { generate: (...a: never[]) => infer R } ? R : never;
  }

  /** [name relative to the base model, layer] of every LoRA layer. */
  loraLayers(): Array<[string, LoraLinear]> {
    return this.model.namedModules().filter(([, m]) => m instanceof LoraLinear) as Array<[string, LoraLinear]>;
  }

  /** PEFT's get_nb_trainable_parameters: [trainable, all], a 4-bit weight counted as its numel · 2. */
  getNbTrainableParameters(): [number, number] {
    return nbTrainableParameters(parameterCounts(this));
  }

  /** Prints PEFT's line: `trainable params: 18,874,368 || all params: 8,049,135,616 || trainable%: 0.2345`. */
  printTrainableParameters(): void {
    console.log(formatTrainableParameters(parameterCounts(this)));
  }

  /** The module tree as PEFT prints it (`print(peft_model)`). */
  toString(): string {
    return moduleRepr(this).replace(/^PeftModel\(/, 'PeftModelForCausalLM(');
  }

  [displaySymbol](): MimeBundle {
    return { 'text/plain': this.toString() };
  }

  disableAdapters(): void {
    this.setDisabled(true);
  }

  enableAdapters(): void {
    this.setDisabled(false);
  }

  private setDisabled(disabled: boolean): void {
    for (const [, m] of this.model.namedModules()) if (m instanceof LoraLinear || m instanceof ModulesToSaveWrapper) m.disabled = disabled;
  }

  /** Runs `fn` on the base model alone (PEFT's `with model.disable_adapter():`), then re-enables. */
  async withAdapterDisabled<T>(fn: () => T | Promise<T>): Promise<T> {
    this.disableAdapters();
    try {
      return await fn();
    } finally {
      this.enableAdapters();
    }
  }

  /**
   * Adds scaling · B·A into each base weight and puts the base layers back; returns the base model.
   * A Linear4bit base is dequantized, updated and quantized again with its own settings, as PEFT does.
   */
  mergeAndUnload(): M {
    const model = this.model;
    for (const [name, lora] of this.loraLayers()) {
      const base = lora.base_layer;
      const delta = lora.deltaWeight(); // (out, in)
      if (base instanceof Linear4bit) {
        const merged = tf.tidy(() => tf.add(base.dequantize(), delta));
        const q = quantize4bit(merged, { quantType: base.quantType, blocksize: base.blocksize, compressStatistics: base.doubleQuant, dtype: base.dtype });
        const replacement = new Linear4bit(base.inFeatures, base.outFeatures, q, { bias: base.bias, computeDtype: base.computeDtype });
        merged.dispose();
        base.dispose();
        model.setSubmodule(name, replacement);
      } else if (base instanceof Linear) {
        const w = tf.tidy(() => tf.add(base.weight, delta));
        base.weight.assign(w);
        w.dispose();
        model.setSubmodule(name, base);
      } else {
        delta.dispose();
        throw new ConfigError(`Cannot merge into \`${name}\`: its base layer is a ${base.constructor.name}.`);
      }
      delta.dispose();
      lora.loraA.dispose();
      lora.loraB.dispose();
    }
    for (const [name, m] of model.namedModules()) {
      if (!(m instanceof ModulesToSaveWrapper)) continue;
      m.original_module.dispose();
      model.setSubmodule(name, m.active);
    }
    this.unloaded = true;
    return model;
  }

  /** Writes adapter_config.json and adapter_model.safetensors (PEFT's key names, fp32), atomically. */
  async savePretrained(dir: string): Promise<void> {
    await saveAdapter(this, dir);
  }

  /**
   * Loads an adapter saved by us or by Python PEFT onto `base`. Frozen and in eval mode unless
   * `isTrainable` (then its LoRA weights train on).
   */
  static async fromPretrained<M extends BaseModel>(base: M, dir: string, options: { isTrainable?: boolean } & GetPeftModelOptions = {}): Promise<PeftModel<M>> {
    return loadAdapter(base, dir, options, (model, config) => new PeftModel(model, config, options));
  }
}

/** PEFT's `get_peft_model(model, config)`: wraps the targets in LoraLinear and freezes the rest. */
export function getPeftModel<M extends BaseModel>(model: M, config: LoraConfig, options: GetPeftModelOptions = {}): PeftModel<M> {
  if (!(config instanceof LoraConfig)) throw new ArgumentError('`peft_config` must be a LoraConfig.', 'new LoraConfig({ r: 32, loraAlpha: 32, targetModules: [\'q_proj\', \'k_proj\', \'v_proj\'], taskType: \'CAUSAL_LM\' })');
  return new PeftModel(model, config, options);
}
