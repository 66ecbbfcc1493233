import * as tf from '@tensorflow/tfjs-core';
import { customGrad } from './custom_grad';
import { ArgumentError, show } from '../errors';
import { backendHasKernels } from '../backend/kernel_registry';
import { splitHeads } from './heads';

/**
 * Names of the fused rotary-embedding kernels a backend may register (wasm does): {x (B, H, T, D),
 * cos, sin (B, 1, T, D)} → x·cos + rotate_half(x)·sin; gradient {dy, cos, sin} → dx. cos and sin
 * are constants (no gradient).
 */
export const FUSED_ROPE = 'QloraRope';
export const FUSED_ROPE_GRAD = 'QloraRopeGrad';
/**
 * The same with the head split folded in (the cuda backend registers them): {x (B, T, H·D), cos,
 * sin} attr heads → (B, H, T, D); gradient {dy (B, H, T, D), cos, sin} attr heads → (B, T, H·D).
 */
export const FUSED_ROPE_HEADS = 'QloraRopeHeads';
export const FUSED_ROPE_HEADS_GRAD = 'QloraRopeHeadsGrad';

/** Rotary embedding parameters as config.json gives them (rope_theta, rope_scaling). */
export interface RopeOptions {
  headDim: number;
  theta: number;
  scaling?: { ropeType: string; factor: number; lowFreqFactor?: number; highFreqFactor?: number; originalMaxPositionEmbeddings?: number } | null;
}

/**
 * inv_freq[i] = 1 / theta^(2i/headDim), i < headDim/2, in float32 as transformers computes it,
 * with llama3 scaling (long wavelengths divided by `factor`, a smooth blend in between) or linear.
 */
export function ropeInvFreq(o: RopeOptions): Float32Array {
  const half = o.headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(o.theta, Math.fround((2 * i) / o.headDim));
  const s = o.scaling;
  if (!s || s.ropeType === 'default') return inv;
  if (s.ropeType === 'linear') return inv.map((f) => f / s.factor);
  if (s.ropeType !== 'llama3') throw new ArgumentError(`rope: \`rope_type\` ${show(s.ropeType)} is not supported`);
  const low = s.lowFreqFactor ?? 1;
  const high = s.highFreqFactor ?? 4;
  const old = s.originalMaxPositionEmbeddings ?? 8192;
  const lowWavelen = old / low;
  const highWavelen = old / high;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) return f;
    if (wavelen > lowWavelen) return f / s.factor;
    const smooth = (old / wavelen - low) / (high - low);
    return (1 - smooth) * (f / s.factor) + smooth * f;
  });
}

/**
 * cos and sin tables for the given positions, laid out as transformers does (the half-dim
 * frequencies repeated twice): each (B, 1, T, headDim) float32 constants.
 */
export function ropeCosSin(invFreq: Float32Array, positions: number[][]): [tf.Tensor4D, tf.Tensor4D] {
  const B = positions.length;
  const T = positions[0]?.length ?? 0;
  const half = invFreq.length;
  const D = 2 * half;
  const cos = new Float32Array(B * T * D);
  const sin = new Float32Array(B * T * D);
  for (let b = 0; b < B; b++) {
    if (b > 0 && positions[b].every((p, t) => p === positions[b - 1][t])) {
      // the usual batch: every row at the same positions, so copy the previous row's tables
      cos.copyWithin(b * T * D, (b - 1) * T * D, b * T * D);
      sin.copyWithin(b * T * D, (b - 1) * T * D, b * T * D);
      continue;
    }
    for (let t = 0; t < T; t++) {
      const base = (b * T + t) * D;
      for (let i = 0; i < half; i++) {
        const angle = Math.fround(positions[b][t] * invFreq[i]);
        cos[base + i] = cos[base + i + half] = Math.cos(angle);
        sin[base + i] = sin[base + i + half] = Math.sin(angle);
      }
    }
  }
  return [tf.tensor4d(cos, [B, 1, T, D]), tf.tensor4d(sin, [B, 1, T, D])];
}

/**
 * rotate_half as a constant (D, D) matrix R with x·R = cat(-x[..., D/2:], x[..., :D/2]): one dense
 * matmul instead of two slices, a negation and a concat (and their pad/split gradients), which on
 * wasm costs a fraction of the time. Entries are 0 and ±1, so the result is exact.
 */
function rotateHalfMatrix(D: number): tf.Tensor2D {
  const m = new Float32Array(D * D);
  const h = D / 2;
  for (let i = 0; i < h; i++) {
    m[(i + h) * D + i] = -1; // out[i] = -x[i + D/2]
    m[i * D + i + h] = 1; // out[i + D/2] = x[i]
  }
  return tf.tensor2d(m, [D, D]);
}

/** x·cos + rotate_half(x)·sin with rotate_half(x) = cat(-x[..., D/2:], x[..., :D/2]); x is (B, H, T, D). */
export function applyRotaryPosEmb(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D {
  const [B, H, T, D] = x.shape;
  if (cos.shape[2] !== T || cos.shape[3] !== D || cos.shape[0] !== B) {
    throw new ArgumentError(`applyRotaryPosEmb: \`cos\` has shape ${show(cos.shape)}, expected [${B}, 1, ${T}, ${D}]`);
  }
  if (D % 2 !== 0) throw new ArgumentError(`applyRotaryPosEmb: head dimension ${D} must be even`);
  if (backendHasKernels(FUSED_ROPE, FUSED_ROPE_GRAD) && [x, cos, sin].every((t) => t.dtype === 'float32')) {
    const f = customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [xt, save] = args as [tf.Tensor, tf.GradSaveFunc];
      save([cos, sin]); // kept for the backward pass: the caller may dispose its tables first
      return {
        value: tf.engine().runKernel(FUSED_ROPE, { x: xt, cos, sin }, {}) as tf.Tensor, // (B, H, T, D)
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(FUSED_ROPE_GRAD, { dy, cos: saved[0], sin: saved[1] }, {}) as tf.Tensor,
      };
    });
    return f(x) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    const rotated = tf.reshape(tf.matMul(tf.reshape(x, [B * H * T, D]), rotateHalfMatrix(D)), [B, H, T, D]); // (B, H, T, D)
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin)) as tf.Tensor4D;
  });
}

/**
 * A projection's output y (B, T, nHeads·D) split into heads and rotated: (B, nHeads, T, D), what
 * `applyRotaryPosEmb(transpose(reshape(y, [B, T, nHeads, D]), [0, 2, 1, 3]), cos, sin)` gives. One
 * kernel each way where the backend has it (the head transpose happens in the same pass).
 */
export function ropeHeads(y: tf.Tensor3D, nHeads: number, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D {
  const [B, T, HD] = y.shape;
  if (HD % nHeads !== 0) throw new ArgumentError(`ropeHeads: last dimension ${HD} is not a multiple of ${nHeads} heads`);
  const D = HD / nHeads;
  if (!backendHasKernels(FUSED_ROPE_HEADS, FUSED_ROPE_HEADS_GRAD) || cos.shape[0] !== B || cos.shape[2] !== T || cos.shape[3] !== D) {
    return tf.tidy(() => applyRotaryPosEmb(splitHeads(y, nHeads), cos, sin));
  }
  const f = customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [yt, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([cos, sin]);
    return {
      value: tf.engine().runKernel(FUSED_ROPE_HEADS, { x: yt, cos, sin }, { heads: nHeads }) as tf.Tensor, // (B, H, T, D)
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(FUSED_ROPE_HEADS_GRAD, { dy, cos: saved[0], sin: saved[1] }, { heads: nHeads }) as tf.Tensor,
    };
  });
  return f(y) as tf.Tensor4D;
}
