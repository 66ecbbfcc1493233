import * as tf from '@tensorflow/tfjs-core';
import { customGrad } from './custom_grad';
import { ArgumentError, show } from '../errors';
import { ropeHeads } from './rope';
import { backendHasKernels } from '../backend/kernel_registry';
import { mergeHeads, splitHeads } from './heads';

/**
 * Names of the fused attention kernels a backend may register (the cuda backend does):
 * {q (B, H, T, D), k, v (B, Hkv, S, D), mask (B or 1, 1, T, S)} attrs scale, causal → [out
 * (B, H, T, D), probs (B, H, T, S)]; gradient {dout, q, k, v, probs, out, mask} (same attrs) →
 * [dq, dk, dv]. The mask is a constant (no gradient). `causal` says the mask hides every key after
 * a query's own position, so a kernel may skip those keys without reading the mask. A backend with
 * flash-style kernels returns in place of probs what its gradient needs to rebuild them (per-row
 * statistics), and reads out and mask in the gradient; the others ignore those two inputs.
 */
export const FUSED_ATTENTION = 'QloraAttention';
export const FUSED_ATTENTION_GRAD = 'QloraAttentionGrad';

/** The additive value for a masked score: finite so that fully padded rows stay NaN-free. */
export const MASK_VALUE = -1e30;

/**
 * Causal + padding mask as an additive float32 constant (B, 1, T, S): query t (absolute position
 * pastLength + t) sees key s when s ≤ pastLength + t and attentionMask[b][s] is 1.
 * Built on the host from plain numbers, so it has no gradient path and needs no kernel.
 */
export function buildAttentionMask(attentionMask: number[][], queryLength: number): tf.Tensor4D {
  const B = attentionMask.length;
  const S = attentionMask[0].length;
  const past = S - queryLength;
  if (past < 0) throw new ArgumentError(`buildAttentionMask: \`attention_mask\` covers ${S} positions, fewer than the ${queryLength} queries`);
  const out = new Float32Array(B * queryLength * S);
  for (let b = 0; b < B; b++) {
    const padded: number[] = [];
    for (let s = 0; s < S; s++) if (attentionMask[b][s] === 0) padded.push(s);
    for (let t = 0; t < queryLength; t++) {
      const row = (b * queryLength + t) * S;
      out.fill(MASK_VALUE, row + past + t + 1, row + S); // the future
      for (const s of padded) out[row + s] = MASK_VALUE;
    }
  }
  return tf.tensor4d(out, [B, 1, queryLength, S]);
}

/**
 * softmax(q kᵀ / √D + mask) v with grouped-query attention: q (B, nHeads, T, D), k and v
 * (B, nKvHeads, S, D); each key/value head serves nHeads / nKvHeads query heads. Instead of
 * repeating k and v, the query heads of a group are stacked along T, so one batched matmul serves
 * the group. The backend's fused kernels where it has them, else tf ops with autodiff (any backend).
 * `causal`: the mask hides each query's future (buildAttentionMask's masks do), which fused
 * kernels may use to skip those keys; the result is the same either way.
 */
export function scaledDotProductAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor4D, causal = false): tf.Tensor4D {
  const [B, H, T, D] = q.shape;
  const [, Hkv, S] = k.shape;
  if (H % Hkv !== 0) throw new ArgumentError(`scaledDotProductAttention: ${H} query heads are not a multiple of ${Hkv} key/value heads`);
  if (mask.shape[2] !== T || mask.shape[3] !== S) {
    throw new ArgumentError(`scaledDotProductAttention: \`mask\` has shape ${show(mask.shape)}, expected [${B}, 1, ${T}, ${S}]`);
  }
  const g = H / Hkv;
  const fused = backendHasKernels(FUSED_ATTENTION, FUSED_ATTENTION_GRAD);
  if (fused && (mask.shape[0] === B || mask.shape[0] === 1) && [q, k, v, mask].every((t) => t.dtype === 'float32')) {
    // One forward kernel (the probabilities, or what rebuilds them, kept for the backward pass), one backward.
    const attrs = { scale: 1 / Math.sqrt(D), causal };
    const f = customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [qt, kt, vt, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
      const [out, probs] = tf.engine().runKernel(FUSED_ATTENTION, { q: qt, k: kt, v: vt, mask }, attrs) as tf.Tensor[];
      save([qt, kt, vt, probs, out, mask]); // the mask too: the caller's tidy may have freed it before the backward pass
      return {
        value: out,
        gradFunc: (dout: tf.Tensor, saved: tf.Tensor[]) => {
          const [qs, ks, vs, ps, os, ms] = saved;
          return tf.engine().runKernel(FUSED_ATTENTION_GRAD, { dout, q: qs, k: ks, v: vs, probs: ps, out: os, mask: ms }, attrs) as tf.Tensor[];
        },
      };
    });
    return f(q, k, v) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    const qg = tf.reshape(q, [B, Hkv, g * T, D]); // (B, nKv, g·T, D)
    let scores = tf.matMul(qg, k, false, true); // (B, nKv, g·T, S)
    scores = tf.mul(scores, 1 / Math.sqrt(D));
    const s5 = tf.add(tf.reshape(scores, [B, Hkv, g, T, S]), tf.reshape(mask, [B, 1, 1, T, S])); // (B, nKv, g, T, S)
    const probs = tf.softmax(s5, -1);
    const out = tf.matMul(tf.reshape(probs, [B, Hkv, g * T, S]), v); // (B, nKv, g·T, D)
    return tf.reshape(out, [B, H, T, D]) as tf.Tensor4D;
  });
}

/**
 * Names of the fused kernels of `ropeAttention` a backend may register (wasm does, through the CPU
 * addon): {q (B, T, H·D), k, v (B, T, Hkv·D), cos, sin (B, 1, T, D), mask (B or 1, 1, T, T)} attrs
 * numHeads, numKvHeads, scale, causal → [out (B, T, H·D), qr (B, H, T, D), kr, vh (B, Hkv, T, D),
 * probs (B, H, T, T)]; gradient {dout, qr, kr, vh, probs, cos, sin, out, mask} (same attrs) → [dq,
 * dk, dv] in the layouts of q, k, v. cos, sin and the mask are constants (no gradient). probs, out
 * and mask as for FUSED_ATTENTION.
 */
export const FUSED_ROPE_ATTENTION = 'QloraRopeAttention';
export const FUSED_ROPE_ATTENTION_GRAD = 'QloraRopeAttentionGrad';

/**
 * Llama's attention between its projections, without a KV cache: the q/k/v projections' outputs
 * q (B, T, nHeads·D), k and v (B, T, nKvHeads·D) → (B, T, nHeads·D), the input of o_proj: heads
 * split, RoPE on q and k (ropeHeads), scaledDotProductAttention, heads merged. One kernel each way
 * where the backend registers them (no transposes, no separate RoPE kernels); elsewhere those ops
 * in turn, each with the backend's own fused kernels where it has them. `causal` as for
 * scaledDotProductAttention.
 */
export function ropeAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, cos: tf.Tensor4D, sin: tf.Tensor4D, mask: tf.Tensor4D, numHeads: number, numKvHeads: number, causal = false): tf.Tensor3D {
  const [B, T, HD] = q.shape;
  const D = HD / numHeads;
  if (!Number.isInteger(D) || D % 2 !== 0) throw new ArgumentError(`ropeAttention: \`q\` has ${HD} features, not an even head dimension times ${numHeads} heads`);
  if (k.shape[2] !== numKvHeads * D || v.shape[2] !== numKvHeads * D || k.shape[1] !== T || v.shape[1] !== T) {
    throw new ArgumentError(`ropeAttention: \`k\` ${show(k.shape)} and \`v\` ${show(v.shape)} must be [${B}, ${T}, ${numKvHeads * D}]`);
  }
  if (numHeads % numKvHeads !== 0) throw new ArgumentError(`ropeAttention: ${numHeads} query heads are not a multiple of ${numKvHeads} key/value heads`);
  if (mask.shape[2] !== T || mask.shape[3] !== T || (mask.shape[0] !== B && mask.shape[0] !== 1)) {
    throw new ArgumentError(`ropeAttention: \`mask\` has shape ${show(mask.shape)}, expected [${B}, 1, ${T}, ${T}] (no cache)`);
  }
  const attrs = { numHeads, numKvHeads, scale: 1 / Math.sqrt(D), causal };
  if (backendHasKernels(FUSED_ROPE_ATTENTION, FUSED_ROPE_ATTENTION_GRAD) && [q, k, v, cos, sin, mask].every((t) => t.dtype === 'float32')) {
    const f = customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [qt, kt, vt, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
      const [out, qr, kr, vh, probs] = tf.engine().runKernel(FUSED_ROPE_ATTENTION, { q: qt, k: kt, v: vt, cos, sin, mask }, attrs) as tf.Tensor[];
      save([qr, kr, vh, probs, cos, sin, out, mask]);
      return {
        value: out, // (B, T, H·D)
        gradFunc: (dout: tf.Tensor, saved: tf.Tensor[]) => {
          const [qrs, krs, vhs, ps, cs, ss, os, ms] = saved;
          return tf.engine().runKernel(FUSED_ROPE_ATTENTION_GRAD, { dout, qr: qrs, kr: krs, vh: vhs, probs: ps, cos: cs, sin: ss, out: os, mask: ms }, attrs) as tf.Tensor[];
        },
      };
    });
    return f(q, k, v) as tf.Tensor3D;
  }
  return tf.tidy(() => {
    const att = scaledDotProductAttention(ropeHeads(q, numHeads, cos, sin), ropeHeads(k, numKvHeads, cos, sin), splitHeads(v, numKvHeads), mask, causal); // (B, H, T, D)
    return mergeHeads(att); // (B, T, H·D)
  });
}
