import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readJson } from '../model/config';
import type { LinearLike, LinearQuantizer } from '../nn/linear';
import { ConfigError, show } from '../errors';
import { displaySymbol, type MimeBundle } from '../display';
import { checkBlocksize } from './blockwise';
import { Linear4bit, type ComputeDtype } from './linear4bit';
import { rawToFloat32, quantStateFromDict, type QuantType, type RawTensor } from './quant_state';

export interface BitsAndBytesConfigOptions {
  loadIn4bit?: boolean;
  /** 8-bit loading (LLM.int8) is not implemented: true is an error. */
  loadIn8bit?: boolean;
  bnb4bitQuantType?: QuantType;
  /** Recorded and saved; tfjs' CPU backends (cpu, wasm) compute in float32 whatever is asked. */
  bnb4bitComputeDtype?: ComputeDtype;
  bnb4bitUseDoubleQuant?: boolean;
  /** Not a transformers field (it always uses 64); 32..4096. */
  bnb4bitBlocksize?: number;
  /** Module names (exact or dotted suffix) kept unquantized besides `lm_head`. */
  llmInt8SkipModules?: string[] | null;
}

const COMPUTE_DTYPES = ['float32', 'float16', 'bfloat16'];

/**
 * transformers' BitsAndBytesConfig for 4-bit loading. Pass it as `quantizationConfig` to
 * `AutoModelForCausalLM.fromPretrained`: each decoder linear becomes a Linear4bit as its weight is
 * read; `lm_head`, embeddings and norms stay in full precision, as bitsandbytes leaves them.
 */
export class BitsAndBytesConfig implements LinearQuantizer {
  readonly loadIn4bit: boolean;
  readonly loadIn8bit: boolean;
  readonly bnb4bitQuantType: QuantType;
  readonly bnb4bitComputeDtype: ComputeDtype;
  readonly bnb4bitUseDoubleQuant: boolean;
  readonly bnb4bitBlocksize: number;
  readonly llmInt8SkipModules: string[] | null;

  constructor(options: BitsAndBytesConfigOptions = {}) {
    this.loadIn4bit = options.loadIn4bit ?? false;
    this.loadIn8bit = options.loadIn8bit ?? false;
    this.bnb4bitQuantType = options.bnb4bitQuantType ?? 'fp4';
    this.bnb4bitComputeDtype = (String(options.bnb4bitComputeDtype ?? 'float32').replace(/^torch\./, '')) as ComputeDtype;
    this.bnb4bitUseDoubleQuant = options.bnb4bitUseDoubleQuant ?? false;
    this.bnb4bitBlocksize = options.bnb4bitBlocksize ?? 64;
    this.llmInt8SkipModules = options.llmInt8SkipModules ?? null;
    if (this.loadIn8bit) throw new ConfigError('`load_in_8bit=True` is not supported by qlora-ts (LLM.int8 is not implemented).', 'Use `loadIn4bit: true` with `bnb4bitQuantType: \'nf4\'`.');
    if (this.bnb4bitQuantType !== 'nf4' && this.bnb4bitQuantType !== 'fp4') throw new ConfigError(`\`bnb_4bit_quant_type\` must be 'nf4' or 'fp4', got ${show(this.bnb4bitQuantType)}.`);
    if (!COMPUTE_DTYPES.includes(this.bnb4bitComputeDtype)) throw new ConfigError(`\`bnb_4bit_compute_dtype\` must be one of ${show(COMPUTE_DTYPES)}, got ${show(options.bnb4bitComputeDtype)}.`);
    if (typeof this.bnb4bitUseDoubleQuant !== 'boolean') throw new ConfigError(`\`bnb_4bit_use_double_quant\` must be a boolean, got ${show(this.bnb4bitUseDoubleQuant)}.`);
    checkBlocksize(this.bnb4bitBlocksize, 'bnb4bitBlocksize');
    if (this.llmInt8SkipModules !== null && !Array.isArray(this.llmInt8SkipModules)) throw new ConfigError(`\`llm_int8_skip_modules\` must be a list of module names, got ${show(this.llmInt8SkipModules)}.`);
  }

  /** `lm_head` and listed modules stay unquantized (matched as the name or a dotted suffix of it). */
  skips(moduleName: string): boolean {
    if (!this.loadIn4bit) return true;
    const keep = ['lm_head', ...(this.llmInt8SkipModules ?? [])];
    return keep.some((k) => moduleName === k || moduleName.endsWith(`.${k}`) || moduleName.startsWith(`${k}.`));
  }

  quantizeLinear(moduleName: string, weight: tf.Tensor, bias?: tf.Tensor): LinearLike {
    try {
      return Linear4bit.fromLinearWeight(weight, {
        quantType: this.bnb4bitQuantType, blocksize: this.bnb4bitBlocksize,
        compressStatistics: this.bnb4bitUseDoubleQuant, computeDtype: this.bnb4bitComputeDtype, bias,
      });
    } finally {
      weight.dispose();
      bias?.dispose();
    }
  }

  loadQuantizedLinear(moduleName: string, state: Map<string, RawTensor>): LinearLike {
    const q = quantStateFromDict(state, moduleName);
    const [out, inF] = q.state.shape;
    const b = state.get('bias');
    const bias = b ? tf.tensor1d(rawToFloat32(b, `${moduleName}.bias`)) : undefined;
    try {
      return new Linear4bit(inF, out, q, { computeDtype: this.bnb4bitComputeDtype, bias });
    } finally {
      bias?.dispose();
    }
  }

  /** transformers' `quantization_config` as saved in config.json. */
  toDict(): Record<string, unknown> {
    const d: Record<string, unknown> = {
      _load_in_4bit: this.loadIn4bit,
      _load_in_8bit: this.loadIn8bit,
      bnb_4bit_compute_dtype: this.bnb4bitComputeDtype,
      bnb_4bit_quant_storage: 'uint8',
      bnb_4bit_quant_type: this.bnb4bitQuantType,
      bnb_4bit_use_double_quant: this.bnb4bitUseDoubleQuant,
      llm_int8_enable_fp32_cpu_offload: false,
      llm_int8_has_fp16_weight: false,
      llm_int8_skip_modules: this.llmInt8SkipModules,
      llm_int8_threshold: 6.0,
      load_in_4bit: this.loadIn4bit,
      load_in_8bit: this.loadIn8bit,
      quant_method: 'bitsandbytes',
    };
    if (this.bnb4bitBlocksize !== 64) d.bnb_4bit_blocksize = this.bnb4bitBlocksize;
    return d;
  }

  /** Renders as transformers prints it: `BitsAndBytesConfig {…}` with the config.json fields. */
  [displaySymbol](): MimeBundle {
    return { 'text/plain': `BitsAndBytesConfig ${JSON.stringify(this.toDict(), null, 2)}` };
  }

  toJSON(): Record<string, unknown> {
    return this.toDict();
  }

  /**
   * The `quantization_config` of a checkpoint directory's config.json, or undefined when it has
   * none: pass it to `AutoModelForCausalLM.fromPretrained(dir, { quantizationConfig })` to load a
   * 4-bit checkpoint saved by bitsandbytes/transformers or by `saveQuantizedPretrained`.
   */
  static async fromPretrained(dir: string): Promise<BitsAndBytesConfig | undefined> {
    const file = path.join(dir, 'config.json');
    const json = await readJson(file, 'the model config');
    const q = json.quantization_config;
    if (q === undefined || q === null) return undefined;
    if (typeof q !== 'object') throw new ConfigError(`${file}: \`quantization_config\` must be an object, got ${show(q)}.`);
    return BitsAndBytesConfig.fromDict(q as Record<string, unknown>);
  }

  /** Reads config.json's `quantization_config` (snake_case, as transformers writes it). */
  static fromDict(d: Record<string, unknown>): BitsAndBytesConfig {
    if (d.quant_method !== undefined && d.quant_method !== 'bitsandbytes') {
      throw new ConfigError(`config.json: \`quantization_config.quant_method\` is ${show(d.quant_method)}; only 'bitsandbytes' is supported.`);
    }
    return new BitsAndBytesConfig({
      loadIn4bit: Boolean(d.load_in_4bit ?? d._load_in_4bit),
      loadIn8bit: Boolean(d.load_in_8bit ?? d._load_in_8bit),
      bnb4bitQuantType: (d.bnb_4bit_quant_type ?? 'fp4') as QuantType,
      bnb4bitComputeDtype: (d.bnb_4bit_compute_dtype ?? 'float32') as ComputeDtype,
      bnb4bitUseDoubleQuant: Boolean(d.bnb_4bit_use_double_quant),
      bnb4bitBlocksize: (d.bnb_4bit_blocksize as number | undefined) ?? 64,
      llmInt8SkipModules: (d.llm_int8_skip_modules as string[] | null | undefined) ?? null,
    });
  }
}
