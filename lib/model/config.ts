import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, show } from '../errors';

/** rope_scaling of type llama3 (Llama 3.1+): low-frequency wavelengths are stretched by `factor`. */
export interface RopeScaling {
  ropeType: string; // 'llama3' | 'linear' | 'default'
  factor: number;
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalMaxPositionEmbeddings?: number;
}

/** A Llama config.json with camelCase names; `raw` keeps every field of the file verbatim. */
export interface LlamaConfigFields {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  eosTokenId: number | number[] | null;
  padTokenId: number | null;
  torchDtype: string;
  attentionBias: boolean;
  mlpBias: boolean;
  hiddenAct: string;
  initializerRange: number;
  modelType: string;
}

// camelCase ↔ config.json names, in the order transformers writes them.
const FIELDS: Array<[keyof LlamaConfigFields, string]> = [
  ['vocabSize', 'vocab_size'], ['hiddenSize', 'hidden_size'], ['intermediateSize', 'intermediate_size'],
  ['numHiddenLayers', 'num_hidden_layers'], ['numAttentionHeads', 'num_attention_heads'],
  ['numKeyValueHeads', 'num_key_value_heads'], ['headDim', 'head_dim'], ['rmsNormEps', 'rms_norm_eps'],
  ['ropeTheta', 'rope_theta'], ['ropeScaling', 'rope_scaling'], ['maxPositionEmbeddings', 'max_position_embeddings'],
  ['tieWordEmbeddings', 'tie_word_embeddings'], ['bosTokenId', 'bos_token_id'], ['eosTokenId', 'eos_token_id'],
  ['padTokenId', 'pad_token_id'], ['torchDtype', 'torch_dtype'], ['attentionBias', 'attention_bias'],
  ['mlpBias', 'mlp_bias'], ['hiddenAct', 'hidden_act'], ['initializerRange', 'initializer_range'], ['modelType', 'model_type'],
];

const DEFAULTS: LlamaConfigFields = {
  vocabSize: 32000, hiddenSize: 4096, intermediateSize: 11008, numHiddenLayers: 32, numAttentionHeads: 32,
  numKeyValueHeads: 32, headDim: 128, rmsNormEps: 1e-6, ropeTheta: 10000, ropeScaling: null,
  maxPositionEmbeddings: 2048, tieWordEmbeddings: false, bosTokenId: 1, eosTokenId: 2, padTokenId: null,
  torchDtype: 'float32', attentionBias: false, mlpBias: false, hiddenAct: 'silu', initializerRange: 0.02, modelType: 'llama',
};

export class LlamaConfig implements LlamaConfigFields {
  vocabSize!: number; hiddenSize!: number; intermediateSize!: number; numHiddenLayers!: number;
  numAttentionHeads!: number; numKeyValueHeads!: number; headDim!: number; rmsNormEps!: number;
  ropeTheta!: number; ropeScaling!: RopeScaling | null; maxPositionEmbeddings!: number;
  tieWordEmbeddings!: boolean; bosTokenId!: number | null; eosTokenId!: number | number[] | null;
  padTokenId!: number | null; torchDtype!: string; attentionBias!: boolean; mlpBias!: boolean;
  hiddenAct!: string; initializerRange!: number; modelType!: string;
  /** Every field of config.json as read (n_positions, seq_length, … stay available here). */
  raw: Record<string, unknown>;

  constructor(fields: Partial<LlamaConfigFields> = {}, raw: Record<string, unknown> = {}) {
    const headDim = fields.headDim ?? Math.floor((fields.hiddenSize ?? DEFAULTS.hiddenSize) / (fields.numAttentionHeads ?? DEFAULTS.numAttentionHeads));
    Object.assign(this, DEFAULTS, { numKeyValueHeads: fields.numAttentionHeads ?? DEFAULTS.numKeyValueHeads, headDim }, stripUndefined(fields));
    this.raw = { ...raw };
    this.validate();
  }

  /** The config.json fields (snake_case, rope_scaling included), merged over the raw fields read. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { ...this.raw, architectures: this.raw.architectures ?? ['LlamaForCausalLM'] };
    for (const [camel, snake] of FIELDS) {
      const v = this[camel];
      out[snake] = camel === 'ropeScaling' ? ropeScalingToJSON(v as RopeScaling | null) : v;
    }
    // transformers ≥ 5 writes `dtype` and `rope_parameters`: keep the layout the file came with.
    if ('dtype' in this.raw) {
      out.dtype = this.torchDtype;
      delete out.torch_dtype;
    }
    if ('rope_parameters' in this.raw) {
      out.rope_parameters = { rope_type: this.ropeScaling?.ropeType ?? 'default', ...(ropeScalingToJSON(this.ropeScaling) as object), rope_theta: this.ropeTheta };
      delete out.rope_theta;
      delete out.rope_scaling;
    }
    return out;
  }

  static fromJSON(json: Record<string, unknown>, file = 'config.json'): LlamaConfig {
    const fields: Partial<Record<keyof LlamaConfigFields, unknown>> = {};
    for (const [camel, snake] of FIELDS) {
      if (json[snake] === undefined) continue;
      fields[camel] = camel === 'ropeScaling' ? ropeScalingFromJSON(json[snake], file) : json[snake];
    }
    // transformers ≥ 5: `dtype` for torch_dtype, `rope_parameters` {rope_type, rope_theta, factor, …}.
    if (json.dtype !== undefined && fields.torchDtype === undefined) fields.torchDtype = json.dtype;
    const rp = json.rope_parameters as Record<string, unknown> | undefined | null;
    if (rp && typeof rp === 'object') {
      if (rp.rope_theta !== undefined) fields.ropeTheta = rp.rope_theta;
      const scaling = ropeScalingFromJSON(rp, file);
      fields.ropeScaling = scaling && scaling.ropeType !== 'default' ? scaling : null;
    }
    try {
      return new LlamaConfig(fields as Partial<LlamaConfigFields>, json);
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`${file}: ${e.message}`);
      throw e;
    }
  }

  /** `n_positions`, `max_position_embeddings` or `seq_length`, first present (the walkthrough's get_max_length). */
  getMaxLength(fallback = 1024): number {
    for (const key of ['n_positions', 'max_position_embeddings', 'seq_length']) {
      const v = key === 'max_position_embeddings' ? this.maxPositionEmbeddings : this.raw[key];
      if (typeof v === 'number') return v;
    }
    return fallback;
  }

  /** The eos ids as a list (config.json allows a number or a list). */
  eosTokenIds(): number[] {
    if (this.eosTokenId === null) return [];
    return Array.isArray(this.eosTokenId) ? this.eosTokenId : [this.eosTokenId];
  }

  async savePretrained(dir: string): Promise<void> {
    await fs.promises.mkdir(dir, { recursive: true });
    await writeJsonAtomic(path.join(dir, 'config.json'), this.toJSON());
  }

  private validate(): void {
    const positive: Array<keyof LlamaConfigFields> = ['vocabSize', 'hiddenSize', 'intermediateSize', 'numHiddenLayers',
      'numAttentionHeads', 'numKeyValueHeads', 'headDim', 'maxPositionEmbeddings', 'ropeTheta', 'rmsNormEps'];
    for (const k of positive) {
      const v = this[k];
      if (typeof v !== 'number' || !(v > 0) || (k !== 'ropeTheta' && k !== 'rmsNormEps' && !Number.isInteger(v))) {
        throw new ConfigError(`\`${snake(k)}\` must be a positive ${k === 'ropeTheta' || k === 'rmsNormEps' ? 'number' : 'integer'}, got ${show(v)}`);
      }
    }
    if (this.numAttentionHeads % this.numKeyValueHeads !== 0) {
      throw new ConfigError(`\`num_attention_heads\` (${this.numAttentionHeads}) must be a multiple of \`num_key_value_heads\` (${this.numKeyValueHeads})`,
        'grouped-query attention shares each key/value head among an equal number of query heads');
    }
    if (this.hiddenAct !== 'silu') throw new ConfigError(`\`hidden_act\` must be "silu" for Llama, got ${show(this.hiddenAct)}`);
    const r = this.ropeScaling;
    if (r && !['llama3', 'linear', 'default'].includes(r.ropeType)) {
      throw new ConfigError(`\`rope_scaling.rope_type\` ${show(r.ropeType)} is not supported`, 'qlora-ts implements "llama3", "linear" and "default"');
    }
    if (r && r.ropeType !== 'default' && !(r.factor > 0)) throw new ConfigError(`\`rope_scaling.factor\` must be positive, got ${show(r.factor)}`);
  }
}

function snake(k: keyof LlamaConfigFields): string {
  return FIELDS.find(([c]) => c === k)![1];
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function ropeScalingFromJSON(v: unknown, file: string): RopeScaling | null {
  if (v === null) return null;
  if (typeof v !== 'object') throw new ConfigError(`${file}: \`rope_scaling\` must be an object or null, got ${show(v)}`);
  const o = v as Record<string, unknown>;
  return {
    ropeType: String(o.rope_type ?? o.type ?? 'default'),
    factor: Number(o.factor ?? 1),
    lowFreqFactor: o.low_freq_factor as number | undefined,
    highFreqFactor: o.high_freq_factor as number | undefined,
    originalMaxPositionEmbeddings: o.original_max_position_embeddings as number | undefined,
  };
}

function ropeScalingToJSON(r: RopeScaling | null): unknown {
  if (!r) return null;
  const out: Record<string, unknown> = { rope_type: r.ropeType, factor: r.factor };
  if (r.lowFreqFactor !== undefined) out.low_freq_factor = r.lowFreqFactor;
  if (r.highFreqFactor !== undefined) out.high_freq_factor = r.highFreqFactor;
  if (r.originalMaxPositionEmbeddings !== undefined) out.original_max_position_embeddings = r.originalMaxPositionEmbeddings;
  return out;
}

/** Writes JSON through a temporary file and a rename, so a crash never leaves half a file. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  await fs.promises.writeFile(tmp, JSON.stringify(value, null, 2) + '\n');
  await fs.promises.rename(tmp, file);
}

export async function readJson(file: string, what: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${file}: cannot read ${what} (${(e as NodeJS.ErrnoException).code ?? e})`, 'pass the directory that save_pretrained wrote');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** `AutoConfig.fromPretrained(dir)`: reads dir/config.json (Llama family only). */
export class AutoConfig {
  static async fromPretrained(dir: string): Promise<LlamaConfig> {
    const file = path.join(dir, 'config.json');
    const json = await readJson(file, 'the model config');
    const type = json.model_type;
    if (type !== undefined && type !== 'llama') {
      throw new ConfigError(`${file}: \`model_type\` ${show(type)} is not supported`, 'qlora-ts loads Llama-architecture models (model_type "llama")');
    }
    return LlamaConfig.fromJSON(json, file);
  }
}

/** generation_config.json, camelCase. */
export interface GenerationConfig {
  bosTokenId?: number | null;
  eosTokenId?: number | number[] | null;
  padTokenId?: number | null;
  doSample?: boolean;
  temperature?: number;
  topP?: number;
  topK?: number;
  maxNewTokens?: number;
}

const GEN_FIELDS: Array<[keyof GenerationConfig, string]> = [
  ['bosTokenId', 'bos_token_id'], ['eosTokenId', 'eos_token_id'], ['padTokenId', 'pad_token_id'], ['doSample', 'do_sample'],
  ['temperature', 'temperature'], ['topP', 'top_p'], ['topK', 'top_k'], ['maxNewTokens', 'max_new_tokens'],
];

export function generationConfigFromJSON(json: Record<string, unknown>): GenerationConfig {
  const out: Record<string, unknown> = {};
  for (const [c, s] of GEN_FIELDS) if (json[s] !== undefined) out[c] = json[s];
  return out as GenerationConfig;
}

export function generationConfigToJSON(g: GenerationConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [c, s] of GEN_FIELDS) if (g[c] !== undefined) out[s] = g[c];
  return out;
}
