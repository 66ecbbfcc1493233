import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../backend';
import { ArgumentError, CheckpointError, show } from '../errors';
import { Module } from '../nn/module';
import { BitsAndBytesConfig } from '../quant/bnb_config';
import { Linear4bit } from '../quant/linear4bit';
import { saveQuantizedPretrained } from '../quant/save';
import { moduleRepr } from '../nn/repr';
import { displaySymbol, type MimeBundle } from '../display';
import { Linear, type LinearLike, type LinearQuantizer } from '../nn/linear';
import { Embedding } from '../nn/embedding';
import { RMSNorm } from '../nn/rms_norm';
import { ropeCosSin, ropeHeads, ropeInvFreq } from '../nn/rope';
import { buildAttentionMask, ropeAttention, scaledDotProductAttention } from '../nn/attention';
import { causalLmLoss } from '../nn/cross_entropy';
import { causalLmLinearLoss } from '../nn/lm_head_loss';
import { swiglu, type SwigluInputLinear } from '../nn/swiglu';
import { mixSeed } from '../nn/seed';
import { AutoConfig, LlamaConfig, generationConfigFromJSON, generationConfigToJSON, readJson, writeJsonAtomic, type GenerationConfig, type LlamaConfigFields } from './config';
import { Checkpoint } from './checkpoint';
import { saveSafetensors, tensorToRaw, type RawTensor, type SafetensorsDtype } from './safetensors';
import { generate, type GenerateOptions } from './generate';
import { toRows, type IdRows } from './inputs';
import { mergeHeads, splitHeads } from '../nn/heads';
import { gradsReleasing } from '../train/grads';
import * as unkept from '../nn/unkept';

export { toRows, type IdRows };

/**
 * Llama for causal language modelling, read top to bottom like nanoGPT's model.py:
 * attention → MLP → decoder layer → model → LM head → loading and saving.
 * Field names are Hugging Face's, so `namedParameters()` gives the checkpoint's keys.
 */

// ---------------------------------------------------------------------------------------------
// Inputs and outputs

/** Keys and values of past positions, one entry per layer; each (B, nKvHeads, S, headDim). */
export class KVCache {
  constructor(readonly layers: Array<{ key: tf.Tensor4D; value: tf.Tensor4D }>) {}
  /** Number of cached positions S. */
  get length(): number {
    return this.layers[0]?.key.shape[2] ?? 0;
  }
  dispose(): void {
    for (const { key, value } of this.layers) tf.dispose([key, value]);
  }
}

export interface ForwardArgs {
  inputIds: IdRows;
  /** 1 for real tokens, 0 for padding; covers past + new positions. Default: all ones. */
  attentionMask?: IdRows;
  /** Targets, -100 ignored; shifted inside like transformers (position t predicts labels[t+1]). */
  labels?: IdRows;
  /** Default: pastLength … pastLength + T − 1 for every row. */
  positionIds?: IdRows;
  pastKeyValues?: KVCache;
  useCache?: boolean;
  /**
   * Default true. False with `labels`: no logits are returned, and the loss comes straight from the
   * last hidden states and lm_head's weight (`causalLmLinearLoss`), which the cuda backend computes
   * over token chunks without ever holding the (B, T, V) logits or their gradient. Trainers set it.
   */
  returnLogits?: boolean;
}

export interface CausalLMOutput {
  logits: tf.Tensor3D; // (B, T, V)
  loss?: tf.Scalar;
  /** A new cache (the caller disposes it and the one passed in) when useCache. */
  pastKeyValues?: KVCache;
}

/** What forward returns when called with `returnLogits: false`: no logits when labels were given. */
export type CausalLMLossOutput = Omit<CausalLMOutput, 'logits'> & { logits?: tf.Tensor3D };

// ---------------------------------------------------------------------------------------------
// Attention: q/k/v projections, RoPE on q and k, grouped-query attention, output projection

export class LlamaAttention extends Module {
  q_proj: LinearLike;
  k_proj: LinearLike;
  v_proj: LinearLike;
  o_proj: LinearLike;

  constructor(readonly config: LlamaConfig, make: (name: string, inF: number, outF: number, bias: boolean) => LinearLike) {
    super();
    const { hiddenSize: h, numAttentionHeads: nH, numKeyValueHeads: nKv, headDim: d, attentionBias: bias } = config;
    this.q_proj = make('q_proj', h, nH * d, bias);
    this.k_proj = make('k_proj', h, nKv * d, bias);
    this.v_proj = make('v_proj', h, nKv * d, bias);
    this.o_proj = make('o_proj', nH * d, h, bias);
  }

  /**
   * x (B, T, hidden) → (B, T, hidden), plus this layer's keys/values over past + new positions
   * (with `keepCache`). Without a past or a cache to keep, the part between the projections is one
   * op, `ropeAttention` (fused kernels where the backend has them).
   */
  forward(x: tf.Tensor3D, cos: tf.Tensor4D, sin: tf.Tensor4D, mask: tf.Tensor4D, past?: { key: tf.Tensor4D; value: tf.Tensor4D }, keepCache = true): { out: tf.Tensor3D; key?: tf.Tensor4D; value?: tf.Tensor4D } {
    const { numAttentionHeads: nH, numKeyValueHeads: nKv } = this.config;
    if (!past && !keepCache) {
      const merged = ropeAttention(this.q_proj.forward(x) as tf.Tensor3D, this.k_proj.forward(x) as tf.Tensor3D, this.v_proj.forward(x) as tf.Tensor3D, cos, sin, mask, nH, nKv, true); // (B, T, nH·d); buildAttentionMask's mask is causal
      return { out: this.o_proj.forward(merged) as tf.Tensor3D };
    }
    const q = ropeHeads(this.q_proj.forward(x) as tf.Tensor3D, nH, cos, sin); // (B, nH, T, d)
    let k = ropeHeads(this.k_proj.forward(x) as tf.Tensor3D, nKv, cos, sin); // (B, nKv, T, d)
    let v = splitHeads(this.v_proj.forward(x) as tf.Tensor3D, nKv); // (B, nKv, T, d)
    if (past) {
      k = tf.concat([past.key, k], 2) as tf.Tensor4D; // (B, nKv, S, d)
      v = tf.concat([past.value, v], 2) as tf.Tensor4D; // (B, nKv, S, d)
    }
    const att = scaledDotProductAttention(q, k, v, mask, true); // (B, nH, T, d)
    return { out: this.o_proj.forward(mergeHeads(att)) as tf.Tensor3D, key: k, value: v }; // o_proj of (B, T, nH·d)
  }
}

// ---------------------------------------------------------------------------------------------
// MLP: SwiGLU, down(silu(gate(x)) · up(x))

export class LlamaMLP extends Module {
  gate_proj: LinearLike;
  up_proj: LinearLike;
  down_proj: LinearLike;

  constructor(config: LlamaConfig, make: (name: string, inF: number, outF: number, bias: boolean) => LinearLike) {
    super();
    const { hiddenSize: h, intermediateSize: m, mlpBias: bias } = config;
    this.gate_proj = make('gate_proj', h, m, bias);
    this.up_proj = make('up_proj', h, m, bias);
    this.down_proj = make('down_proj', m, h, bias);
  }

  /** down(silu(gate(x)) · up(x)); a down projection that can (LoRA's) keeps gate(x) and up(x), not their product. */
  forward(x: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const g = this.gate_proj.forward(x); // (B, T, inter)
      const u = this.up_proj.forward(x); // (B, T, inter)
      const fused = (this.down_proj as Partial<SwigluInputLinear>).forwardSwiglu?.(g, u);
      return (fused ?? this.down_proj.forward(swiglu(g, u))) as tf.Tensor3D; // silu(g) · u
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Decoder layer: pre-norm residual blocks

export class LlamaDecoderLayer extends Module {
  self_attn: LlamaAttention;
  mlp: LlamaMLP;
  input_layernorm: RMSNorm;
  post_attention_layernorm: RMSNorm;

  constructor(config: LlamaConfig, prefix: string, build: ModelBuilder) {
    super();
    this.self_attn = new LlamaAttention(config, (n, i, o, b) => build.linear(`${prefix}.self_attn.${n}`, i, o, b));
    this.mlp = new LlamaMLP(config, (n, i, o, b) => build.linear(`${prefix}.mlp.${n}`, i, o, b));
    this.input_layernorm = new RMSNorm(config.hiddenSize, config.rmsNormEps, { weight: build.norm(`${prefix}.input_layernorm`, config.hiddenSize) });
    this.post_attention_layernorm = new RMSNorm(config.hiddenSize, config.rmsNormEps, { weight: build.norm(`${prefix}.post_attention_layernorm`, config.hiddenSize) });
    build.release();
  }

  /**
   * h (B, T, hidden) → the layer's output, and its keys/values with `keepCache`. One tidy: of what
   * the layer makes, only its results and the copies backward nodes kept outlive it (q/k/v before
   * RoPE, the norms' and sublayers' outputs go at once, not when the step ends). The residual sums
   * keep nothing (unkept.add), so the attention and MLP outputs are not held for their shapes.
   */
  forward(h: tf.Tensor3D, cos: tf.Tensor4D, sin: tf.Tensor4D, mask: tf.Tensor4D, past?: { key: tf.Tensor4D; value: tf.Tensor4D }, keepCache = true): { out: tf.Tensor3D; key?: tf.Tensor4D; value?: tf.Tensor4D } {
    return tf.tidy(() => {
      const a = this.self_attn.forward(this.input_layernorm.forward(h) as tf.Tensor3D, cos, sin, mask, past, keepCache);
      const h2 = unkept.add(h, a.out); // (B, T, hidden)
      const out = unkept.add(h2, this.mlp.forward(this.post_attention_layernorm.forward(h2) as tf.Tensor3D)); // (B, T, hidden)
      return { out, key: a.key, value: a.value };
    });
  }

  /**
   * The same layer with gradient checkpointing: the forward keeps nothing for backward; the
   * backward recomputes the layer under its own tape and returns the gradients of the input and
   * of the layer's trainable variables (found at call time, so LoRA layers swapped in count).
   * Random state is replayed, so a recomputed dropout draws the same mask as the forward did.
   */
  forwardCheckpointed(h: tf.Tensor3D, cos: tf.Tensor4D, sin: tf.Tensor4D, mask: tf.Tensor4D): tf.Tensor3D {
    const params = this.trainableParameters();
    const rng = this.namedModules().map(([, m]) => m).filter(hasRngState);
    const before = rng.map(getRngState);
    const run = (x: tf.Tensor, c: tf.Tensor, s: tf.Tensor, m: tf.Tensor) => this.forward(x as tf.Tensor3D, c as tf.Tensor4D, s as tf.Tensor4D, m as tf.Tensor4D, undefined, false).out;
    // cos, sin and the mask are constants: kept with the input, but not inputs of the op, so the
    // backward pass makes no zero gradients for them (three tensors a layer, the mask (B, 1, T, T)).
    const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const x = args[0] as tf.Tensor;
      const save = args[args.length - 1] as tf.GradSaveFunc;
      save([x, cos, sin, mask]); // the layer input and the constants; nothing inside the layer
      return {
        value: run(x, cos, sin, mask),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xs, cs, ss, ms] = saved;
          const after = rng.map(getRngState);
          rng.forEach((mod, i) => setRngState(mod, before[i]));
          // The recomputed layer's own backward frees its activations as it goes, and puts back
          // the tape of the backward pass around it (lib/train/engine_tape.ts).
          const grads = gradsReleasing((xIn: tf.Tensor) => run(xIn, cs, ss, ms))([xs, ...params], dy);
          rng.forEach((mod, i) => setRngState(mod, after[i]));
          return grads; // the input's, then each parameter's
        },
      };
    });
    return f(h, ...params) as tf.Tensor3D;
  }
}

/**
 * Modules with random state that gradient checkpointing must replay: either the protocol
 * `getRngState()` / `setRngState(state)`, or a numeric `dropoutCalls` counter that seeds dropout
 * (lib/lora's LoRA layer).
 */
interface RngStateful {
  getRngState?: () => unknown;
  setRngState?: (state: unknown) => void;
  dropoutCalls?: number;
}

function hasRngState(m: Module): boolean {
  const r = m as unknown as RngStateful;
  return (typeof r.getRngState === 'function' && typeof r.setRngState === 'function') || typeof r.dropoutCalls === 'number';
}

function getRngState(m: Module): unknown {
  const r = m as unknown as RngStateful;
  return typeof r.getRngState === 'function' ? r.getRngState() : r.dropoutCalls;
}

function setRngState(m: Module, state: unknown): void {
  const r = m as unknown as RngStateful;
  if (typeof r.setRngState === 'function') r.setRngState(state);
  else r.dropoutCalls = state as number;
}

// ---------------------------------------------------------------------------------------------
// Model: embeddings → layers → final norm

export class LlamaModel extends Module {
  embed_tokens: Embedding;
  layers: LlamaDecoderLayer[];
  norm: RMSNorm;

  constructor(config: LlamaConfig, build: ModelBuilder) {
    super();
    this.embed_tokens = new Embedding(config.vocabSize, config.hiddenSize, { weight: build.embedding('model.embed_tokens', config.vocabSize, config.hiddenSize) });
    build.release();
    this.layers = [];
    for (let i = 0; i < config.numHiddenLayers; i++) this.layers.push(new LlamaDecoderLayer(config, `model.layers.${i}`, build));
    this.norm = new RMSNorm(config.hiddenSize, config.rmsNormEps, { weight: build.norm('model.norm', config.hiddenSize) });
    build.release();
  }
}

/** transformers' `gradient_checkpointing_kwargs`, as qlora-ts reads them. */
export interface GradientCheckpointingKwargs {
  /** Decoder layers that recompute, counted from the first; default every layer. */
  layers?: number;
  /** torch's flag, accepted and ignored: each layer is recomputed under its own tape (use_reentrant=False's meaning). */
  useReentrant?: boolean;
  use_reentrant?: boolean;
}

/** Float formats savePretrained writes, by safetensors or torch name. */
export type SaveDtype = 'BF16' | 'F16' | 'F32' | 'bfloat16' | 'float16' | 'float32';
const SAVE_DTYPES: Record<string, SafetensorsDtype> = { BF16: 'BF16', F16: 'F16', F32: 'F32', bfloat16: 'BF16', float16: 'F16', float32: 'F32' };

// ---------------------------------------------------------------------------------------------
// Causal LM: the model plus lm_head (tied to embed_tokens or not), loss, cache

export class LlamaForCausalLM extends Module {
  model: LlamaModel;
  lm_head: LinearLike;
  readonly config: LlamaConfig;
  generationConfig: GenerationConfig;
  private invFreq: Float32Array;
  /** Decoder layers that recompute in the backward pass, from the first (0: checkpointing off). */
  private checkpointedLayers = 0;
  /** The 4-bit config the model was loaded with (savePretrained writes bitsandbytes' layout then). */
  quantizationConfig: BitsAndBytesConfig | undefined;

  constructor(config: LlamaConfig, build: ModelBuilder = new RandomInit(config, 0)) {
    super();
    this.config = config;
    this.generationConfig = { bosTokenId: config.bosTokenId, eosTokenId: config.eosTokenId, padTokenId: config.padTokenId };
    this.model = new LlamaModel(config, build);
    if (config.tieWordEmbeddings) {
      const head = new Linear(config.hiddenSize, config.vocabSize, { weight: this.model.embed_tokens.weight });
      head.weight.dispose();
      head.weight = this.model.embed_tokens.weight; // tied: the same variable
      this.lm_head = head;
    } else {
      this.lm_head = build.linear('lm_head', config.hiddenSize, config.vocabSize, false);
      build.release();
    }
    this.invFreq = ropeInvFreq({ headDim: config.headDim, theta: config.ropeTheta, scaling: config.ropeScaling });
  }

  /** A randomly initialised model as transformers' _init_weights does (normal, std initializer_range). */
  static fromConfig(config: LlamaConfig | Partial<LlamaConfigFields>, options: { seed?: number } = {}): LlamaForCausalLM {
    const cfg = config instanceof LlamaConfig ? config : new LlamaConfig(config);
    return new LlamaForCausalLM(cfg, new RandomInit(cfg, options.seed ?? 0));
  }

  /**
   * Recompute decoder layers in the backward pass instead of keeping their activations: every
   * layer, or with `{ layers: n }` the first n (memory between the two extremes; the layers that
   * keep their activations pay no recomputation).
   */
  gradientCheckpointingEnable(kwargs: GradientCheckpointingKwargs = {}): void {
    const n = this.config.numHiddenLayers;
    const layers = kwargs.layers ?? n;
    if (!Number.isInteger(layers) || layers < 0 || layers > n) {
      throw new ArgumentError(`\`gradient_checkpointing_kwargs.layers\` is ${show(layers)}; the model has ${n} decoder layers`, `pass an integer from 0 to ${n} (or leave it out to recompute every layer)`);
    }
    this.checkpointedLayers = layers;
  }

  gradientCheckpointingDisable(): void {
    this.checkpointedLayers = 0;
  }

  get isGradientCheckpointing(): boolean {
    return this.checkpointedLayers > 0;
  }

  /** How many decoder layers (from the first) recompute in the backward pass. */
  get gradientCheckpointingLayers(): number {
    return this.checkpointedLayers;
  }

  /** With `returnLogits: false` and labels: the loss and no logits (see ForwardArgs.returnLogits). */
  forward(args: ForwardArgs & { returnLogits: false }): CausalLMLossOutput;
  forward(args: ForwardArgs): CausalLMOutput;
  forward(args: ForwardArgs): CausalLMLossOutput {
    const ids = toRows(args.inputIds, 'input_ids');
    const B = ids.length;
    const T = ids[0].length;
    const past = args.pastKeyValues;
    const pastLen = past?.length ?? 0;
    const mask = args.attentionMask ? toRows(args.attentionMask, 'attention_mask') : ids.map(() => new Array(pastLen + T).fill(1));
    if (mask.length !== B || mask[0].length !== pastLen + T) {
      throw new ArgumentError(`\`attention_mask\` has shape [${mask.length}, ${mask[0].length}], expected [${B}, ${pastLen + T}] (past + new positions)`);
    }
    const positions = args.positionIds ? toRows(args.positionIds, 'position_ids') : ids.map(() => Array.from({ length: T }, (_, t) => pastLen + t));
    const labels = args.labels ? toRows(args.labels, 'labels') : undefined;
    const V = this.config.vocabSize;
    for (const row of ids) for (const id of row) if (!Number.isInteger(id) || id < 0 || id >= V) throw new ArgumentError(`\`input_ids\` holds ${show(id)}, outside the vocabulary [0, ${V})`);
    const checkpointed = this.training && !past && !args.useCache ? this.checkpointedLayers : 0;
    const result = tf.tidy(() => {
      const idsT = tf.tensor2d(ids, [B, T], 'int32');
      let h = this.model.embed_tokens.forward(idsT) as tf.Tensor3D; // (B, T, hidden)
      const [cos, sin] = ropeCosSin(this.invFreq, positions); // (B, 1, T, headDim)
      const maskT = buildAttentionMask(mask, T); // (B, 1, T, past + T)
      const cache: Array<{ key: tf.Tensor4D; value: tf.Tensor4D }> = [];
      this.model.layers.forEach((layer, i) => {
        if (i < checkpointed) {
          h = layer.forwardCheckpointed(h, cos, sin, maskT);
          return;
        }
        const r = layer.forward(h, cos, sin, maskT, past?.layers[i], !!args.useCache);
        h = r.out;
        if (args.useCache) cache.push({ key: r.key!, value: r.value! });
      });
      h = this.model.norm.forward(h) as tf.Tensor3D;
      const head = this.lm_head;
      if (labels && args.returnLogits === false && head instanceof Linear && !head.bias) {
        return { logits: undefined, loss: causalLmLinearLoss(h, head.weight as tf.Tensor2D, labels), cache: args.useCache ? cache : undefined };
      }
      const logits = head.forward(h) as tf.Tensor3D; // (B, T, V)
      const loss = labels ? causalLmLoss(logits, labels) : undefined;
      return { logits, loss, cache: args.useCache ? cache : undefined };
    });
    return {
      logits: result.logits,
      loss: result.loss,
      pastKeyValues: result.cache ? new KVCache(result.cache) : undefined,
    };
  }

  /** Parameters counted once each (a tied lm_head is not counted twice), as transformers does. */
  numParameters(options: { onlyTrainable?: boolean } = {}): number {
    let n = 0;
    for (const v of new Set(this.parameters())) if (!options.onlyTrainable || v.trainable) n += v.size;
    return n;
  }

  /** Bytes held by all parameters and buffers (float32 and int32: 4 bytes; bool/uint8: 1). */
  getMemoryFootprint(): number {
    const seen = new Set<tf.Tensor>();
    let bytes = 0;
    for (const [, t] of [...this.namedParameters(), ...this.namedBuffers()]) {
      if (seen.has(t) || t.isDisposed) continue;
      seen.add(t);
      bytes += t.size * (t.dtype === 'bool' ? 1 : 4);
    }
    return bytes;
  }

  /** name → tensor as transformers' state_dict (the tied lm_head.weight left out). */
  stateDict(): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    for (const [name, t] of [...this.namedParameters(), ...this.namedBuffers()]) {
      if (this.config.tieWordEmbeddings && name === 'lm_head.weight') continue;
      out.set(name, t);
    }
    return out;
  }

  /**
   * Writes config.json, generation_config.json and model.safetensors (float tensors as BF16 by
   * default, like transformers with a bf16 model; `dtype: 'F32'` keeps full precision). Atomic.
   */
  async savePretrained(dir: string, options: { safeSerialization?: boolean; dtype?: SaveDtype } = {}): Promise<void> {
    if (options.safeSerialization === false) throw new ArgumentError('`safe_serialization=False` (pickle) is not supported', 'qlora-ts writes safetensors only');
    const dtype = SAVE_DTYPES[options.dtype ?? 'BF16'];
    if (!dtype) throw new ArgumentError(`savePretrained: \`dtype\` ${show(options.dtype)} is not one of ${Object.keys(SAVE_DTYPES).map((k) => `"${k}"`).join(', ')}`);
    // A 4-bit model saves in bitsandbytes' layout with its quantization_config, as transformers does.
    if (this.quantizationConfig && this.namedModules().some(([, m]) => m instanceof Linear4bit)) {
      await saveQuantizedPretrained(this, dir, this.quantizationConfig, { dtype: dtype as 'BF16' | 'F16' | 'F32' });
      return;
    }
    await fs.promises.mkdir(dir, { recursive: true });
    const raw = new Map<string, RawTensor>();
    for (const [name, t] of this.stateDict()) raw.set(name, await tensorToRaw(t, t.dtype === 'float32' ? dtype : undefined));
    await saveSafetensors(path.join(dir, 'model.safetensors'), raw, { format: 'pt' });
    const torchDtype = { BF16: 'bfloat16', F16: 'float16', F32: 'float32' }[dtype as 'BF16'];
    const cfg = new LlamaConfig({ ...this.config, torchDtype }, this.config.raw);
    await cfg.savePretrained(dir);
    await writeJsonAtomic(path.join(dir, 'generation_config.json'), generationConfigToJSON(this.generationConfig));
  }

  /** The module tree as PyTorch prints it. */
  toString(): string {
    return moduleRepr(this);
  }

  [displaySymbol](): MimeBundle {
    return { 'text/plain': this.toString() };
  }

  /** Greedy or sampled continuation with a KV cache (see generate.ts): prompt + new ids per row. */
  generate(options: GenerateOptions): Promise<number[][]> {
    return generate(this, options);
  }
}

// ---------------------------------------------------------------------------------------------
// Where weights come from while the model is built: random init or a checkpoint

/** Supplies each tensor as the model is constructed; `release()` frees what was read so far. */
export interface ModelBuilder {
  linear(name: string, inF: number, outF: number, bias: boolean): LinearLike;
  embedding(name: string, vocab: number, dim: number): tf.Tensor;
  norm(name: string, dim: number): tf.Tensor;
  release(): void;
}

/**
 * A builder that makes its own tensors: norms start at one, and `release()` frees the tensors that
 * `keep` collected since the last call (the model holds its own references by then). Subclasses
 * say where linears and embeddings come from (random on the host here, on the device in
 * bench/cuda/train.ts).
 */
export abstract class MakingBuilder implements ModelBuilder {
  private made: tf.Tensor[] = [];

  abstract linear(name: string, inF: number, outF: number, bias: boolean): LinearLike;
  abstract embedding(name: string, vocab: number, dim: number): tf.Tensor;

  /** Frees `t` at the next `release()`; returns it. */
  protected keep<T extends tf.Tensor>(t: T): T {
    this.made.push(t);
    return t;
  }

  norm(_name: string, dim: number): tf.Tensor {
    return this.keep(tf.ones([dim]));
  }

  release(): void {
    tf.dispose(this.made);
    this.made = [];
  }
}

class RandomInit extends MakingBuilder {
  private n = 0;
  constructor(private readonly config: LlamaConfig, private readonly seed: number) {
    super();
  }

  private normal(shape: number[]): tf.Tensor {
    return this.keep(tf.randomNormal(shape, 0, this.config.initializerRange, 'float32', mixSeed(this.seed, this.n++)));
  }

  linear(_name: string, inF: number, outF: number, bias: boolean): LinearLike {
    const lin = new Linear(inF, outF, { weight: this.normal([outF, inF]), bias: bias ? tf.zeros([outF]) : undefined });
    this.release();
    return lin;
  }

  embedding(_name: string, vocab: number, dim: number): tf.Tensor {
    const pad = this.config.padTokenId;
    const w = this.normal([vocab, dim]);
    if (pad === null || pad < 0 || pad >= vocab) return w;
    const ids = this.keep(tf.tensor1d([pad], 'int32'));
    const rowMask = this.keep(tf.reshape(this.keep(tf.oneHot(ids, vocab)), [vocab, 1])); // (vocab, 1)
    return this.keep(tf.mul(w, this.keep(tf.sub(1, rowMask)))); // padding_idx row zero, as torch's Embedding
  }
}

class CheckpointInit implements ModelBuilder {
  private made: tf.Tensor[] = [];
  constructor(private readonly ckpt: Checkpoint, private readonly quantizer?: LinearQuantizer) {}

  private read(name: string, shape: number[]): tf.Tensor {
    const info = this.ckpt.info(name);
    if (info.shape.join(',') !== shape.join(',')) {
      throw new CheckpointError(`${this.ckpt.dir}: tensor '${name}' has shape ${show(info.shape)}, but the config expects ${show(shape)}`, 'config.json does not match the weights');
    }
    const t = this.ckpt.readTensor(name);
    if (t.dtype !== 'float32') throw new CheckpointError(`${this.ckpt.dir}: tensor '${name}' has dtype ${info.dtype}, expected a float dtype`);
    return t;
  }

  linear(name: string, inF: number, outF: number, bias: boolean): LinearLike {
    const q = this.quantizer;
    if (q && !q.skips(name)) {
      if (this.ckpt.has(`${name}.weight.absmax`)) {
        if (!q.loadQuantizedLinear) throw new CheckpointError(`${this.ckpt.dir}: '${name}' is stored quantized, but the quantization config cannot load quantized state`);
        const state = new Map<string, { dtype: string; shape: number[]; data: Uint8Array }>();
        for (const key of this.ckpt.keys()) if (key.startsWith(`${name}.`)) state.set(key.slice(name.length + 1), this.ckpt.readRaw(key));
        return q.loadQuantizedLinear(name, state);
      }
      const w = this.read(`${name}.weight`, [outF, inF]);
      const b = bias ? this.read(`${name}.bias`, [outF]) : undefined;
      return q.quantizeLinear(name, w, b);
    }
    const w = this.read(`${name}.weight`, [outF, inF]);
    const b = bias ? this.read(`${name}.bias`, [outF]) : undefined;
    const lin = new Linear(inF, outF, { weight: w, bias: b });
    tf.dispose([w, ...(b ? [b] : [])]);
    return lin;
  }

  embedding(name: string, vocab: number, dim: number): tf.Tensor {
    const t = this.read(`${name}.weight`, [vocab, dim]);
    this.made.push(t);
    return t;
  }

  norm(name: string, dim: number): tf.Tensor {
    const t = this.read(`${name}.weight`, [dim]);
    this.made.push(t);
    return t;
  }

  release(): void {
    tf.dispose(this.made);
    this.made = [];
  }
}

export interface FromPretrainedOptions {
  /** A quantization config (BitsAndBytesConfig): decoder linears are quantized as they are read. */
  quantizationConfig?: LinearQuantizer;
  /** Recorded in the config; tfjs computes in float32 whatever the stored dtype. */
  torchDtype?: string;
}

/** `AutoModelForCausalLM.fromPretrained(dir, options)`: config.json + safetensors weights. */
export class AutoModelForCausalLM {
  static async fromPretrained(dir: string, options: FromPretrainedOptions = {}): Promise<LlamaForCausalLM> {
    await ensureBackend();
    const config = await AutoConfig.fromPretrained(dir);
    if (options.torchDtype) config.torchDtype = options.torchDtype;
    // A checkpoint saved in 4-bit names its quantization in config.json, as transformers reads it.
    const saved = config.raw.quantization_config as Record<string, unknown> | undefined;
    const quantizationConfig = options.quantizationConfig ?? (saved ? BitsAndBytesConfig.fromDict(saved) : undefined);
    const ckpt = Checkpoint.open(dir);
    try {
      if (config.tieWordEmbeddings === false && !ckpt.has('lm_head.weight')) {
        throw new CheckpointError(`${dir}: config.json has \`tie_word_embeddings\` false but the checkpoint has no 'lm_head.weight'`);
      }
      const model = new LlamaForCausalLM(config, new CheckpointInit(ckpt, quantizationConfig));
      if (quantizationConfig instanceof BitsAndBytesConfig) model.quantizationConfig = quantizationConfig;
      const genFile = path.join(dir, 'generation_config.json');
      if (fs.existsSync(genFile)) model.generationConfig = { ...model.generationConfig, ...generationConfigFromJSON(await readJson(genFile, 'the generation config')) };
      return model;
    } finally {
      ckpt.close();
    }
  }
}
