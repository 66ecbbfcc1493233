/**
 * QLoRA training and generation throughput of the `cuda` backend at the model shapes,
 * run on the GPU machine. Random weights are made on the GPU (deviceRandom); every decoder linear
 * is an NF4 Linear4bit (random 4-bit codes, absmax per 64-block), embeddings / lm_head / norms
 * float32 as bitsandbytes leaves them. One process per configuration so each peak is its own.
 *
 *   node dist/bench/cuda/train.js --shape 1b --batch 8 --seq 512 --r 16 --alpha 32 --targets all [--ckpt | --ckpt-layers N] [--steps 3] [--gen 128] [--profile] [--logits] [--tfjs-grads] [--compute-dtype bfloat16|float16] [--optim adamw|adamw_8bit] [--lora-dropout P] [--json FILE]
 *
 * The loss comes straight from the last hidden states (`returnLogits: false`, the fused chunked
 * lm_head + cross-entropy) unless --logits asks for the (B, T, V) logits path. The frozen embedding
 * and lm_head are stored in bf16 (storeFrozenWeightsInBf16) unless --fp32-frozen. Gradients come
 * from variableGradsReleasing (activations and gradients freed during backward) unless --tfjs-grads
 * asks for tf.variableGrads (everything kept until backward ends), to compare the two.
 *
 * Prints one JSON line: tokens/s of a training step (forward + backward + AdamW, mean of the timed
 * steps after one warm-up), the allocator's peak bytes over those steps (weights, adapters,
 * optimizer state and activations; plus the bf16 GEMM scratch), MFU against 790 TFLOP/s, and
 * generation tokens/s (greedy, batch 1, a `seq`-token prompt, `gen` new tokens) when asked.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs'; // gradients
import { ensureBackend, describeBackend } from '../../lib/backend';
import type { CudaBackend } from '../../lib/backend/cuda';
import { deviceRandom } from '../../lib/backend/cuda/random';
import { storeFrozenWeightsInBf16 } from '../../lib/backend/cuda/bf16';
import { LlamaConfig } from '../../lib/model/config';
import { LlamaForCausalLM, MakingBuilder } from '../../lib/model/llama';
import { Linear, type LinearLike } from '../../lib/nn/linear';
import { Linear4bit, type ComputeDtype } from '../../lib/quant/linear4bit';
import { codeFor } from '../../lib/quant/codebooks';
import { prepareModelForKbitTraining } from '../../lib/quant/prepare';
import { LoraConfig } from '../../lib/lora/config';
import { getPeftModel } from '../../lib/lora/peft_model';
import { AdamW, AdamW8bit, type Optimizer } from '../../lib/train/optim';
import { variableGradsReleasing } from '../../lib/train/grads';
import { flag, numberFlag } from '../common/args';

const SHAPES: Record<string, Partial<ConstructorParameters<typeof LlamaConfig>[0]>> = {
  // Llama-3.2-1B: tied embeddings.
  '1b': { hiddenSize: 2048, numHiddenLayers: 16, numAttentionHeads: 32, numKeyValueHeads: 8, intermediateSize: 8192, vocabSize: 128256, tieWordEmbeddings: true, ropeTheta: 500000, maxPositionEmbeddings: 8192 },
  // Llama-3-8B.
  '8b': { hiddenSize: 4096, numHiddenLayers: 32, numAttentionHeads: 32, numKeyValueHeads: 8, intermediateSize: 14336, vocabSize: 128256, tieWordEmbeddings: false, ropeTheta: 500000, maxPositionEmbeddings: 8192 },
  // A small shape to try the script on CPU-less quick runs.
  tiny: { hiddenSize: 256, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, intermediateSize: 512, vocabSize: 1024, tieWordEmbeddings: false, maxPositionEmbeddings: 1024 },
};
const TARGETS: Record<string, string[]> = {
  all: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  qkv: ['q_proj', 'k_proj', 'v_proj'],
};
const PEAK_BF16_FLOPS = 790e12;

/** deviceRandom on the GPU; tfjs's host generators elsewhere (only for trying the tiny shape on CPU). */
function random(shape: number[], kind: 'normal' | 'uniform' | 'bits', seed: number, a = 0, b = 1): tf.Tensor {
  if (tf.getBackend() === 'cuda') return deviceRandom(shape, kind, seed, a, b);
  if (kind === 'bits') return tf.randomUniform(shape, -(2 ** 31), 2 ** 31 - 1, 'int32', seed);
  return kind === 'normal' ? tf.randomNormal(shape, a, b, 'float32', seed) : tf.randomUniform(shape, a, b, 'float32', seed);
}

/** Random NF4 weights and float32 embeddings made on the device. */
class DeviceRandomInit extends MakingBuilder {
  private seed = 1;
  private readonly code = codeFor('nf4');
  constructor(private readonly std: number, private readonly computeDtype: ComputeDtype) {
    super();
  }

  linear(name: string, inF: number, outF: number, bias: boolean): LinearLike {
    if (bias) throw new Error('bench: Llama linears have no bias');
    if (name === 'lm_head') {
      const w = random([outF, inF], 'normal', this.seed++, 0, this.std);
      const lin = new Linear(inF, outF, { weight: w });
      w.dispose();
      return lin;
    }
    const n = inF * outF;
    // absmax of 64 normal(0, std) values is about 2.4 std.
    return new Linear4bit(inF, outF, {
      words: random([Math.ceil(n / 8)], 'bits', this.seed++),
      absmax: random([Math.ceil(n / 64)], 'uniform', this.seed++, 2 * this.std, 3 * this.std),
      code: tf.tensor1d(this.code), quantType: 'nf4', blocksize: 64, dtype: 'bfloat16',
    }, { computeDtype: this.computeDtype });
  }

  embedding(_name: string, vocab: number, dim: number): tf.Tensor {
    return this.keep(random([vocab, dim], 'normal', this.seed++, 0, this.std));
  }
}

/** Matmul FLOPs of one training step as the MFU convention counts them: 6·N·tokens for weights that see a weight gradient's worth of work, plus attention. */
function stepFlops(cfg: LlamaConfig, tokens: number, seq: number, ckptLayers: number): { model: number; hardware: number } {
  const h = cfg.hiddenSize, kv = cfg.numKeyValueHeads * cfg.headDim, L = cfg.numHiddenLayers;
  const linear = L * (2 * h * h + 2 * h * kv + 3 * h * cfg.intermediateSize) + h * cfg.vocabSize;
  const attn = L * 2 * 2 * seq * h; // per token: QKᵀ and PV, causal half counted in full as torch's FLOP counters do
  // Frozen base: forward 2·N, input gradient 2·N (no weight gradient), LoRA weights are negligible.
  const model = tokens * (4 * linear + 3 * attn);
  const hardware = model + tokens * (2 * (linear - h * cfg.vocabSize) + attn) * (ckptLayers / L); // the recomputed layers' forward
  return { model, hardware };
}

/**
 * Where a decoded token's time goes: ms JavaScript takes to queue one cached forward (tfjs, our
 * kernels' JS, the addon calls and launches; garbage collection included), then ms waiting for its
 * logits (the GPU finishing what was queued): means over `n` tokens after the prompt, and the
 * median queue time. The model calls generate makes, without its sampling.
 */
function decodeSplit(model: LlamaForCausalLM, prompt: number[], n: number): Record<string, number> {
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
  const wasTraining = model.training;
  model.eval();
  let out = model.forward({ inputIds: [prompt], useCache: true });
  let cache = out.pastKeyValues!;
  out.logits.dataSync();
  out.logits.dispose();
  const queue: number[] = [], wait: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    out = model.forward({ inputIds: [[prompt[i]]], pastKeyValues: cache, useCache: true });
    const t1 = performance.now();
    out.logits.dataSync(); // (1, 1, V)
    wait.push(performance.now() - t1);
    queue.push(t1 - t0);
    cache.dispose();
    cache = out.pastKeyValues!;
    out.logits.dispose();
  }
  cache.dispose();
  model.train(wasTraining);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  return { decodeQueueMs: +mean(queue).toFixed(2), decodeWaitMs: +mean(wait).toFixed(2), decodeQueueMedianMs: +median(queue).toFixed(2) };
}

async function main(): Promise<void> {
  await ensureBackend();
  const onCuda = tf.getBackend() === 'cuda';
  if (!onCuda && flag('shape') !== 'tiny') throw new Error(`bench/cuda/train needs QLORA_TS_BACKEND=cuda (got '${tf.getBackend()}'); only --shape tiny runs elsewhere`);
  tf.enableProdMode();
  const backend = tf.backend() as CudaBackend;
  const stats = () => (onCuda ? backend.addon.memoryStats() : { allocated: tf.memory().numBytes, peak: 0, scratch: 0, waits: 0, deviceUsed: undefined });
  const sync = () => { if (onCuda) backend.addon.sync(); };
  const shape = flag('shape') ?? '1b';
  if (!SHAPES[shape]) throw new Error(`bench/cuda/train: --shape must be one of ${Object.keys(SHAPES).join(', ')}, got '${shape}'`);
  const B = numberFlag('batch', 8), T = numberFlag('seq', 512), r = numberFlag('r', 16), alpha = numberFlag('alpha', 32), steps = numberFlag('steps', 3), gen = numberFlag('gen', 0);
  const targets = TARGETS[flag('targets') ?? 'all'];
  if (!targets) throw new Error(`bench/cuda/train: --targets must be one of ${Object.keys(TARGETS).join(', ')}`);
  const cfg = new LlamaConfig(SHAPES[shape]);
  // --ckpt: every layer recomputes; --ckpt-layers N: the first N (gradient_checkpointing_kwargs.layers).
  const ckptLayers = flag('ckpt-layers') !== undefined ? numberFlag('ckpt-layers', 0) : flag('ckpt') === 'true' ? cfg.numHiddenLayers : 0;
  const ckpt = ckptLayers > 0;
  // --compute-dtype: the 4-bit layers' bnb_4bit_compute_dtype (the walkthrough loads Llama-3-8B with float16).
  const computeDtype = flag('compute-dtype') ?? 'bfloat16';
  if (computeDtype !== 'bfloat16' && computeDtype !== 'float16') throw new Error(`bench/cuda/train: --compute-dtype must be bfloat16 or float16, got '${computeDtype}'`);

  let t0 = performance.now();
  const base = new LlamaForCausalLM(cfg, new DeviceRandomInit(cfg.initializerRange, computeDtype));
  prepareModelForKbitTraining(base, { useGradientCheckpointing: ckpt, gradientCheckpointingKwargs: { layers: ckptLayers } });
  // --lora-dropout: LoRA's dropout on the adapters' input (the walkthrough's lora_dropout=0.05); default 0.
  const loraDropout = numberFlag('lora-dropout', 0);
  const model = getPeftModel(base, new LoraConfig({ r, loraAlpha: alpha, targetModules: targets, loraDropout, taskType: 'CAUSAL_LM' }), { warn: false });
  model.train();
  const params = model.trainableParameters();
  // Frozen embedding / lm_head in bf16, as the peer's bf16 model holds them (--fp32-frozen keeps float32).
  const bf16Frozen = flag('fp32-frozen') === 'true' ? [] : storeFrozenWeightsInBf16(model);
  // --optim adamw_8bit: bitsandbytes' blockwise 8-bit AdamW (the walkthrough's paged_adamw_8bit), on the device where the backend has it.
  const optim = flag('optim') ?? 'adamw';
  if (optim !== 'adamw' && optim !== 'adamw_8bit') throw new Error(`bench/cuda/train: --optim must be adamw or adamw_8bit, got '${optim}'`);
  const adamw = { lr: 1e-4, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0 };
  const opt: Optimizer = optim === 'adamw_8bit' ? new AdamW8bit(params, adamw) : new AdamW(params, adamw);
  sync();
  const buildS = (performance.now() - t0) / 1000;
  const weightsBytes = stats().allocated;

  // Token ids: a fixed pseudo-random sequence (labels = inputs, shifted inside the loss).
  const ids = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (b * 7919 + t * 104729 + 17) % cfg.vocabSize));
  const hostS: number[] = [];
  const tfjsGrads = flag('tfjs-grads') === 'true';
  const step = (): number => {
    const stepStart = performance.now();
    const { value, grads } = (tfjsGrads ? tf.variableGrads : variableGradsReleasing)(() => (base.forward({ inputIds: ids, labels: ids, returnLogits: flag('logits') === 'true' }).loss as tf.Scalar), params);
    opt.step(params.map((p) => grads[p.name]), 1e-4);
    tf.dispose(Object.values(grads));
    hostS.push((performance.now() - stepStart) / 1000); // JavaScript's time to queue the step
    const loss = value.dataSync()[0]; // waits for the step
    value.dispose();
    return loss;
  };
  t0 = performance.now();
  const firstLoss = step();
  const warmS = (performance.now() - t0) / 1000;
  if (onCuda) backend.addon.resetPeak();
  const waitsBefore = stats().waits;
  const times: number[] = [];
  let loss = firstLoss;
  for (let i = 0; i < steps; i++) {
    t0 = performance.now();
    loss = step();
    times.push((performance.now() - t0) / 1000);
  }
  const mem = stats();
  const stepS = times.reduce((a, b) => a + b, 0) / times.length;
  const tokens = B * T;
  const flops = stepFlops(cfg, tokens, T, ckptLayers);
  const result: Record<string, unknown> = {
    shape, batch: B, seq: T, r, alpha, targets: flag('targets') ?? 'all', computeDtype, optim, loraDropout, ckpt, ckptLayers, logits: flag('logits') === 'true', bf16Frozen, grads: tfjsGrads ? 'tf.variableGrads' : 'variableGradsReleasing', backend: describeBackend(),
    attention: process.env.QLORA_TS_CUDA_FLASH === '0' ? 'probs' : 'flash', // the cuda kernels' path for head sizes 64/128 with bf16 matmuls
    trainable: params.reduce((n, p) => n + p.size, 0), buildS: +buildS.toFixed(2), firstStepS: +warmS.toFixed(2),
    stepS: times.map((t) => +t.toFixed(3)), tokensPerS: Math.round(tokens / stepS),
    peakGiB: +((mem.peak + mem.scratch) / 2 ** 30).toFixed(2), weightsGiB: +(weightsBytes / 2 ** 30).toFixed(2),
    deviceUsedGiB: mem.deviceUsed ? +(mem.deviceUsed / 2 ** 30).toFixed(2) : undefined,
    mfu: +((flops.model / stepS) / PEAK_BF16_FLOPS).toFixed(4), hfu: +((flops.hardware / stepS) / PEAK_BF16_FLOPS).toFixed(4),
    loss: [+firstLoss.toFixed(4), +loss.toFixed(4)], numTensors: tf.memory().numTensors,
    hostWaitsPerStep: (mem.waits - waitsBefore) / steps, // the loss read is one
    // Time JavaScript took to queue each timed step (tfjs bookkeeping + launches): near stepS means host-bound.
    hostS: hostS.slice(1, 1 + steps).map((t) => +t.toFixed(3)),
  };

  if (flag('profile') === 'true') {
    const info = await tf.profile(() => { step(); });
    const byName = new Map<string, { ms: number; n: number }>();
    for (const k of info.kernels) {
      const e = byName.get(k.name) ?? { ms: 0, n: 0 };
      e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      e.n++;
      byName.set(k.name, e);
    }
    result.profile = [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 16).map(([name, e]) => `${name} ${e.ms.toFixed(1)} ms / ${e.n}`);
    // tfjs kernel calls per step, most frequent first (Identity: copies of tensors kept for backward).
    result.kernelCalls = info.kernels.length;
    result.profileCalls = [...byName.entries()].sort((a, b) => b[1].n - a[1].n).slice(0, 8).map(([name, e]) => `${name} ${e.n}`);
  }

  if (gen > 0) {
    opt.dispose();
    const prompt = ids[0];
    await model.generate({ inputIds: [prompt.slice(0, 16)], maxNewTokens: 2, eosTokenId: [] }); // warm-up
    t0 = performance.now();
    let firstTokenS = 0;
    const out = await model.generate({
      inputIds: [prompt], maxNewTokens: gen, eosTokenId: [],
      streamer: (_tokens, s) => { if (s === 0) firstTokenS = (performance.now() - t0) / 1000; },
    });
    const genS = (performance.now() - t0) / 1000;
    result.generate = { prompt: T, newTokens: out[0].length - T, seconds: +genS.toFixed(2), tokensPerS: +((out[0].length - T) / genS).toFixed(1), prefillS: +firstTokenS.toFixed(3), decodeTokensPerS: +((out[0].length - T - 1) / (genS - firstTokenS)).toFixed(1), ...decodeSplit(base, prompt, Math.min(gen, 32)) };
  }
  const line = JSON.stringify(result);
  console.log(line);
  const file = flag('json');
  if (file) fs.appendFileSync(file, `${line}\n`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
