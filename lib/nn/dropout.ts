import * as tf from '@tensorflow/tfjs-core';
import { ArgumentError, show } from '../errors';
import { backendHasKernels } from '../backend/kernel_registry';

/**
 * Name of the dropout kernel a backend may register (cuda does, and wasm where the CPU addon
 * loads): {x} attrs {seed, threshold, scale} → the values of `dropoutValues`, computed where x lives.
 */
export const FUSED_DROPOUT = 'QloraDropout';

/** 2²⁴ · rate, rounded: element i is kept when the top 24 bits of its hash are at least this. */
export function dropoutThreshold(rate: number): number {
  return Math.round(rate * 2 ** 24);
}

/** The float32 factor kept values are multiplied by: 1 / (1 − rate). */
export function dropoutScale(rate: number): number {
  return Math.fround(1 / (1 - rate));
}

/**
 * The 32-bit hash of (seed, element index) that decides each element: murmur3's finalizer of the
 * finalized seed plus the index times the golden-ratio constant. The cuda kernel (addon.cu
 * kDropout) and the CPU addon (native/fused.cc DropoutLoop) compute the same bits, so every
 * backend draws the same masks.
 */
export function dropoutHash(seed: number, i: number): number {
  return fmix32((fmix32(seed >>> 0) + Math.imul(i, 0x9e3779b9)) >>> 0);
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** x · mask / (1 − rate) on the host: element i kept when dropoutHash(seed, i) >>> 8 ≥ dropoutThreshold(rate). */
export function dropoutValues(x: Float32Array, rate: number, seed: number): Float32Array {
  const threshold = dropoutThreshold(rate), scale = dropoutScale(rate);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) if (dropoutHash(seed, i) >>> 8 >= threshold) out[i] = x[i] * scale;
  return out;
}

/**
 * Inverted dropout with a seed: each element of x is kept with probability 1 − rate and scaled by
 * 1 / (1 − rate), else zeroed. The mask is a function of (seed, element index) alone, the same on
 * every backend: drawn by the backend's kernel where it has one (cuda on the device, wasm in the
 * CPU addon on its heap), else on the host in JavaScript. It is never stored: the backward pass
 * applies the same dropout to dy, which redraws the same mask, and checkpointed layers replay it
 * from the seed.
 */
export function dropout(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  if (!(rate >= 0 && rate < 1)) throw new ArgumentError(`dropout: \`rate\` must be in [0, 1), got ${show(rate)}`);
  if (!Number.isInteger(seed)) throw new ArgumentError(`dropout: \`seed\` must be an integer, got ${show(seed)}`);
  const apply = (t: tf.Tensor): tf.Tensor => (backendHasKernels(FUSED_DROPOUT)
    ? tf.engine().runKernel(FUSED_DROPOUT, { x: t }, { seed: seed >>> 0, threshold: dropoutThreshold(rate), scale: dropoutScale(rate) }) as tf.Tensor
    : tf.tensor(dropoutValues(t.dataSync() as Float32Array, rate, seed), t.shape, 'float32'));
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: apply(args[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => apply(dy),
  }));
  return f(x);
}
