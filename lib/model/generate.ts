import * as tf from '@tensorflow/tfjs-core';
import { mulberry32 } from '../random';
import { ArgumentError, show } from '../errors';
import type { KVCache, LlamaForCausalLM } from './llama';
import { toRows, type IdRows } from './inputs';
import { currentSignal } from '../display';

/** `model.generate(options)`, with transformers' names in camelCase. */
export interface GenerateOptions {
  inputIds: IdRows;
  /** 1 for tokens, 0 for (left) padding. Default: all ones. */
  attentionMask?: IdRows;
  /** Default: generationConfig.maxNewTokens, else 20. */
  maxNewTokens?: number;
  doSample?: boolean;
  /** Default 1 (sampling only). */
  temperature?: number;
  /** Default 1: no nucleus filtering. */
  topP?: number;
  /** Default 50 as transformers' GenerationConfig; 0 turns it off. */
  topK?: number;
  /** Seeds the sampler: the same seed gives the same tokens. Default: a random seed. */
  seed?: number;
  /** A row stops at any of these; default generationConfig.eosTokenId. */
  eosTokenId?: number | number[];
  /** Written after a row has stopped; default generationConfig.padTokenId, else the first eos id. */
  padTokenId?: number;
  /** Called after each step with the new token of every row (pad for finished rows). */
  streamer?: (newTokens: number[], step: number) => void;
  /** Aborting stops after the current step; the ids so far are returned. Default: the running notebook cell's interrupt. */
  signal?: AbortSignal;
}

/** A small seeded generator (mulberry32, lib/random.ts): uniform floats in [0, 1). */
export const seededRandom: (seed: number) => () => number = mulberry32;

/**
 * Picks a token from one row of logits as transformers' sampling does: temperature, then top-k,
 * then top-p (the smallest set of tokens whose probability reaches top_p, at least one), then a
 * draw from the renormalised distribution.
 */
export function sampleToken(logits: Float32Array, o: { temperature: number; topK: number; topP: number }, rand: () => number): number {
  const V = logits.length;
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b] - logits[a]);
  let keep = o.topK > 0 ? Math.min(o.topK, V) : V;
  const max = logits[order[0]];
  const probs = new Float64Array(keep);
  let total = 0;
  for (let i = 0; i < keep; i++) total += probs[i] = Math.exp((logits[order[i]] - max) / o.temperature);
  if (o.topP < 1) {
    let cum = 0;
    for (let i = 0; i < keep; i++) {
      cum += probs[i] / total;
      if (cum >= o.topP) {
        keep = i + 1;
        break;
      }
    }
    total = 0;
    for (let i = 0; i < keep; i++) total += probs[i];
  }
  let u = rand() * total;
  for (let i = 0; i < keep; i++) {
    u -= probs[i];
    if (u < 0) return order[i];
  }
  return order[keep - 1];
}

/** Greedy or sampled decoding with a KV cache; returns prompt + new ids per row, like transformers. */
export async function generate(model: LlamaForCausalLM, options: GenerateOptions): Promise<number[][]> {
  const gc = model.generationConfig;
  const ids = toRows(options.inputIds, 'input_ids').map((r) => [...r]);
  const mask = options.attentionMask ? toRows(options.attentionMask, 'attention_mask').map((r) => [...r]) : ids.map((r) => r.map(() => 1));
  const B = ids.length;
  const maxNew = options.maxNewTokens ?? gc.maxNewTokens ?? 20;
  if (!Number.isInteger(maxNew) || maxNew < 0) throw new ArgumentError(`\`max_new_tokens\` must be a non-negative integer, got ${show(maxNew)}`);
  const eosRaw = options.eosTokenId ?? gc.eosTokenId ?? model.config.eosTokenId;
  const eos = eosRaw === null || eosRaw === undefined ? [] : Array.isArray(eosRaw) ? eosRaw : [eosRaw];
  const pad = options.padTokenId ?? gc.padTokenId ?? eos[0] ?? 0;
  const doSample = options.doSample ?? gc.doSample ?? false;
  const sampling = {
    temperature: options.temperature ?? gc.temperature ?? 1,
    topK: options.topK ?? gc.topK ?? 50,
    topP: options.topP ?? gc.topP ?? 1,
  };
  if (doSample && !(sampling.temperature > 0)) throw new ArgumentError(`\`temperature\` must be positive when sampling, got ${show(sampling.temperature)}`);
  if (!(sampling.topP > 0 && sampling.topP <= 1)) throw new ArgumentError(`\`top_p\` must be in (0, 1], got ${show(sampling.topP)}`);
  const rand = seededRandom(options.seed ?? Math.floor(Math.random() * 2 ** 32));
  const signal = options.signal ?? currentSignal();
  const wasTraining = model.training;
  model.eval();
  // Positions from the mask, as transformers does for left padding: cumsum(mask) − 1, 1 at pads.
  const positions = mask.map((row) => {
    let c = -1;
    return row.map((m) => (m ? ++c : 1));
  });
  let cache: KVCache | undefined;
  try {
    let out = model.forward({ inputIds: ids, attentionMask: mask, positionIds: positions, useCache: true });
    cache = out.pastKeyValues;
    const finished = new Array<boolean>(B).fill(false);
    let nextPos = mask.map((row) => row.reduce((a, b) => a + b, 0));
    for (let step = 0; step < maxNew; step++) {
      const [, T, V] = out.logits.shape;
      const last = tf.slice(out.logits, [0, T - 1, 0], [B, 1, V]); // (B, 1, V)
      // Greedy: the backend's ArgMax (the first maximum, as tfjs's CPU kernel scans), so only B ids are read back.
      const picked = doSample ? last : tf.argMax(last, -1); // (B, 1) int32 when greedy
      const values = (await picked.data()) as Float32Array | Int32Array;
      tf.dispose([last, picked, out.logits]);
      const next = ids.map((_, b) => {
        if (finished[b]) return pad;
        return doSample ? sampleToken(values.subarray(b * V, (b + 1) * V) as Float32Array, sampling, rand) : values[b];
      });
      next.forEach((id, b) => {
        ids[b].push(id);
        mask[b].push(1);
        if (eos.includes(id)) finished[b] = true;
      });
      options.streamer?.(next, step);
      if (finished.every(Boolean) || step === maxNew - 1 || signal?.aborted) break;
      const stepPositions = nextPos.map((p) => [p]);
      nextPos = nextPos.map((p) => p + 1);
      const previous: KVCache | undefined = cache;
      out = model.forward({ inputIds: next.map((id) => [id]), attentionMask: mask, positionIds: stepPositions, pastKeyValues: previous, useCache: true });
      cache = out.pastKeyValues;
      previous?.dispose();
    }
    if (maxNew === 0) out.logits.dispose();
  } finally {
    cache?.dispose();
    model.train(wasTraining);
  }
  return ids;
}
