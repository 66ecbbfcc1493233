import * as tf from '@tensorflow/tfjs-core';
import { FUSED_CROSS_ENTROPY, FUSED_CROSS_ENTROPY_GRAD } from '../../nn/cross_entropy';
import { FUSED_ADAMW } from '../../train/optim/adamw';
import { FUSED_SWIGLU, FUSED_SWIGLU_GRAD } from '../../nn/swiglu';
import { FUSED_DROPOUT } from '../../nn/dropout';
import { FUSED_RMS_NORM, FUSED_RMS_NORM_GRAD } from '../../nn/rms_norm';
import type { Fn } from './kernels';
import { FUSED_ATTENTION, FUSED_ATTENTION_GRAD, FUSED_ROPE_ATTENTION, FUSED_ROPE_ATTENTION_GRAD } from '../../nn/attention';
import { FUSED_LM_HEAD_LOSS } from '../../nn/lm_head_loss';
import { FUSED_MATMUL_ACC } from '../../nn/matmul_acc';
import { FUSED_ROPE, FUSED_ROPE_GRAD, FUSED_ROPE_HEADS, FUSED_ROPE_HEADS_GRAD } from '../../nn/rope';
import type { CudaBackend } from './backend';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { replaceKernel } from '../kernel_registry';
import { flashBackward, flashForward, isFlashStats, useFlash, type FlashShape } from './flash';

/**
 * Rotary embedding through the addon's one-pass kernel: x in (B, T, H, D) when `inBTHD` (else
 * (B, H, T, D)), output likewise by `outBTHD`; `grad` applies the transpose of the rotation.
 */
function rope(backend: CudaBackend, x: TensorInfo, cos: TensorInfo, sin: TensorInfo, dims: [number, number, number, number], inBTHD: boolean, outBTHD: boolean, grad: boolean): TensorInfo {
  const [B, H, T, D] = dims;
  const y = backend.makeDeviceOutput(outBTHD ? [B, T, H * D] : [B, H, T, D]);
  backend.addon.rope(backend.devicePtr(x), backend.devicePtr(cos), backend.devicePtr(sin), backend.devicePtr(y), B, H, T, D, inBTHD ? 1 : 0, outBTHD ? 1 : 0, grad ? 1 : 0);
  return y;
}

/** (d0, d1, d2, d3) → (d0, d2, d1, d3) on the device: heads split from or merged into the token axis. */
function transposeHeads(backend: CudaBackend, x: TensorInfo, dims: [number, number, number, number]): TensorInfo {
  const y = backend.makeDeviceOutput([dims[0], dims[2], dims[1], dims[3]]);
  backend.addon.transpose(backend.devicePtr(x), backend.devicePtr(y), dims, [0, 2, 1, 3]);
  return y;
}

/**
 * Attention over q (B, H, T, D), k, v (B, Hkv, S, D) with an additive mask (B or 1, 1, T, S):
 * per (b, kv head) the group's query heads stacked along T, (gT, D) · (S, D)ᵀ into the probs
 * buffer, one kernel for scale + mask + softmax in place, then · V. With bf16 GEMMs the softmax
 * also writes a bf16 copy of the probabilities that the second GEMM reads as it is (no separate
 * rounding pass over the (B, H, T, S) tensor). Returns [out (B, H, T, D), probs (B, H, T, S)].
 */
function attentionForward(backend: CudaBackend, q: TensorInfo, k: TensorInfo, v: TensorInfo, mask: TensorInfo, scale: number): [TensorInfo, TensorInfo] {
  const [B, H, T, D] = q.shape;
  const [, Hkv, S] = k.shape;
  const gT = (H / Hkv) * T;
  const mode = backend.matmulMode();
  const probs = backend.makeDeviceOutput([B, H, T, S]);
  const out = backend.makeDeviceOutput([B, H, T, D]);
  // The addon keeps a product with a side ≤ 64 on TF32 (mode 2 becomes 1 there), which a bf16 A cannot take.
  const bf16Probs = mode === 2 && gT > 64 && S > 64 && D > 64;
  const p16 = bf16Probs ? { ptr: backend.addon.alloc(B * H * T * S * 2), bytes: B * H * T * S * 2 } : undefined;
  const p = backend.devicePtr(probs);
  backend.addon.matmul(backend.devicePtr(q), backend.devicePtr(k), p, B * Hkv, gT, S, D, 0, 1, gT * D, S * D, gT * S, mode);
  backend.addon.maskedSoftmax(p, backend.devicePtr(mask), p, B, H, T, S, scale, mask.shape[0] === 1 ? 0 : 1, p16?.ptr ?? 0);
  backend.addon.matmul(p16?.ptr ?? p, backend.devicePtr(v), backend.devicePtr(out), B * Hkv, gT, D, S, 0, 0, gT * S, S * D, gT * D, p16 ? 4 : mode);
  if (p16) backend.addon.free(p16.ptr, p16.bytes); // stream-ordered: a later kernel reusing it runs after this GEMM
  return [out, probs];
}

/** The gradient of attentionForward: four GEMMs and one softmax-gradient kernel → [dq, dk, dv]. */
function attentionBackward(backend: CudaBackend, dout: TensorInfo, q: TensorInfo, k: TensorInfo, v: TensorInfo, probs: TensorInfo, scale: number): TensorInfo[] {
  const [B, H, T, D] = q.shape;
  const [, Hkv, S] = k.shape;
  const gT = (H / Hkv) * T;
  const mode = backend.matmulMode();
  const n = B * Hkv;
  const dq = backend.makeDeviceOutput(q.shape), dk = backend.makeDeviceOutput(k.shape), dv = backend.makeDeviceOutput(v.shape);
  const ds = backend.makeDeviceOutput([B, H, T, S]);
  backend.addon.matmul(backend.devicePtr(probs), backend.devicePtr(dout), backend.devicePtr(dv), n, S, D, gT, 1, 0, gT * S, gT * D, S * D, mode); // Pᵀ · dO
  backend.addon.matmul(backend.devicePtr(dout), backend.devicePtr(v), backend.devicePtr(ds), n, gT, S, D, 0, 1, gT * D, S * D, gT * S, mode); // dP = dO · Vᵀ
  backend.addon.softmaxGrad(backend.devicePtr(probs), backend.devicePtr(ds), backend.devicePtr(ds), B * H * T, S, scale); // dS, in place
  backend.addon.matmul(backend.devicePtr(ds), backend.devicePtr(k), backend.devicePtr(dq), n, gT, D, S, 0, 0, gT * S, S * D, gT * D, mode); // dS · K
  backend.addon.matmul(backend.devicePtr(ds), backend.devicePtr(q), backend.devicePtr(dk), n, S, D, gT, 1, 0, gT * S, gT * D, S * D, mode); // dSᵀ · Q
  backend.disposeData(ds.dataId);
  return [dq, dk, dv];
}

/** The flash kernels' shape: the attention's dimensions with the kernels' attrs scale and causal. */
function flashShape(dims: Omit<FlashShape, 'scale' | 'causal'>, attrs: Record<string, unknown>): FlashShape {
  return { ...dims, scale: attrs.scale as number, causal: Boolean(attrs.causal) };
}

/** An input the flash kernels' gradient reads, which a caller built for the probabilities' gradient may leave out. */
function needed(t: TensorInfo | undefined, name: string): TensorInfo {
  if (t === undefined) throw new Error(`cuda attention gradient: the flash forward's gradient needs the input \`${name}\` (pass the forward's output and mask)`);
  return t;
}

/** Rows of logits per chunk of the fused lm_head loss: at most 2²⁷ floats (512 MiB). */
export function lmHeadChunkRows(n: number, vocab: number): number {
  return Math.max(1, Math.min(n, Math.floor(2 ** 27 / vocab)));
}

/**
 * Fused kernels that the library calls by name when the current backend registers them (the
 * composite tfjs form runs elsewhere):
 * - cross-entropy over (N, V) logits: forward gives the per-row loss and logsumexp in one pass;
 *   the backward writes (softmax − onehot) · keep · dy / count in one pass from the saved
 *   logsumexp (no one-hot, no softmax tensor, no extra full-vocabulary fp32 temporaries);
 * - AdamW: one kernel per parameter instead of about ten elementwise ones;
 * - SwiGLU silu(g)·u and RMSNorm (frozen weight): one kernel forward, one backward;
 * - attention (GQA, additive causal/padding mask): batched GEMMs around one fused
 *   scale + mask + softmax kernel forward and one softmax-gradient kernel backward;
 * - lm_head + cross-entropy over token chunks: per chunk a GEMM to (rows, V) logits, the
 *   cross-entropy kernel, its gradient written over the logits in place and a GEMM back to
 *   (rows, h): the loss and d(loss)/d(hidden) without whole (N, V) logits.
 */
const kernels: Record<string, Fn> = {
  // {q (B, H, T, D), k, v (B, Hkv, S, D), mask (B or 1, 1, T, S)} attrs scale, causal → [out (B, H, T, D), probs (B, H, T, S)
  // or, from the flash kernels, row statistics (B·H, T, 2)].
  [FUSED_ATTENTION]: ({ inputs: { q, k, v, mask }, backend, attrs }) => {
    const [B, H, T, D] = q.shape;
    const [, Hkv, S] = k.shape;
    if (!useFlash(backend, D, T, S)) return attentionForward(backend, q, k, v, mask, attrs.scale as number);
    const shape = flashShape({ B, H, Hkv, T, S, D }, attrs);
    return flashForward(backend, { t: q, heads: H }, { t: k, heads: Hkv }, { t: v, heads: Hkv }, mask, shape, false);
  },
  // {dout, q, k, v, probs, out, mask} attrs scale, causal → [dq, dk, dv] (out and mask are read only after the flash forward).
  [FUSED_ATTENTION_GRAD]: ({ inputs: { dout, q, k, v, probs, out, mask }, backend, attrs }) => {
    if (!isFlashStats(probs)) return attentionBackward(backend, dout, q, k, v, probs, attrs.scale as number);
    const [B, H, T, D] = q.shape;
    const [, Hkv, S] = k.shape;
    const shape = flashShape({ B, H, Hkv, T, S, D }, attrs);
    return flashBackward(backend, { t: dout, heads: H }, { t: needed(out, 'out'), heads: H }, { t: q, heads: H }, { t: k, heads: Hkv }, { t: v, heads: Hkv },
      probs, needed(mask, 'mask'), shape, false);
  },
  // {q (B, T, H·D), k, v (B, T, Hkv·D), cos, sin, mask} → [out (B, T, H·D), qr, kr (rotated heads), vh (B, Hkv, T, D), probs or
  // row statistics]: RoPE with the head split, attention, heads merged, all in one tfjs kernel. The flash kernels write out
  // straight in (B, T, H·D).
  [FUSED_ROPE_ATTENTION]: ({ inputs: { q, k, v, cos, sin, mask }, backend, attrs }) => {
    const [H, Hkv] = [attrs.numHeads as number, attrs.numKvHeads as number];
    const [B, T, HD] = q.shape;
    const D = HD / H;
    const qr = rope(backend, q, cos, sin, [B, H, T, D], true, false, false);
    const kr = rope(backend, k, cos, sin, [B, Hkv, T, D], true, false, false);
    const vh = transposeHeads(backend, v, [B, T, Hkv, D]);
    if (useFlash(backend, D, T, T)) {
      const shape = flashShape({ B, H, Hkv, T, S: T, D }, attrs);
      const [out, stats] = flashForward(backend, { t: qr, heads: H }, { t: kr, heads: Hkv }, { t: vh, heads: Hkv }, mask, shape, true);
      return [out, qr, kr, vh, stats];
    }
    const [att, probs] = attentionForward(backend, qr, kr, vh, mask, attrs.scale as number);
    const out = transposeHeads(backend, att, [B, H, T, D]); // (B, T, H, D)
    backend.disposeData(att.dataId);
    return [{ ...out, shape: [B, T, HD] }, qr, kr, vh, probs];
  },
  // {dout (B, T, H·D), qr, kr, vh, probs, cos, sin, out, mask} → [dq, dk, dv] in the layouts of q, k, v.
  [FUSED_ROPE_ATTENTION_GRAD]: ({ inputs: { dout, qr, kr, vh, probs, cos, sin, out, mask }, backend, attrs }) => {
    const [B, H, T, D] = qr.shape;
    const Hkv = kr.shape[1];
    if (isFlashStats(probs)) {
      const shape = flashShape({ B, H, Hkv, T, S: T, D }, attrs);
      const [dqr, dkr, dv] = flashBackward(backend, { t: dout, heads: H, tokens: true }, { t: needed(out, 'out'), heads: H, tokens: true },
        { t: qr, heads: H }, { t: kr, heads: Hkv }, { t: vh, heads: Hkv }, probs, needed(mask, 'mask'), shape, true);
      const dq = rope(backend, dqr, cos, sin, [B, H, T, D], false, true, true); // dqr (B, H, T, D), dkr and dv (B, T, Hkv·D)
      const dk = rope(backend, dkr, cos, sin, [B, Hkv, T, D], true, true, true);
      for (const t of [dqr, dkr]) backend.disposeData(t.dataId);
      return [dq, dk, dv];
    }
    const dAtt = transposeHeads(backend, dout, [B, T, H, D]); // (B, H, T, D)
    const [dqr, dkr, dvh] = attentionBackward(backend, dAtt, qr, kr, vh, probs, attrs.scale as number);
    const dq = rope(backend, dqr, cos, sin, [B, H, T, D], false, true, true);
    const dk = rope(backend, dkr, cos, sin, [B, Hkv, T, D], false, true, true);
    const dv = transposeHeads(backend, dvh, [B, Hkv, T, D]);
    for (const t of [dAtt, dqr, dkr, dvh]) backend.disposeData(t.dataId);
    return [dq, dk, { ...dv, shape: [B, T, Hkv * D] }];
  },
  // {x (B, H, T, D), cos, sin (B, 1, T, D)} → (B, H, T, D); gradient {dy, cos, sin} → dx.
  [FUSED_ROPE]: ({ inputs: { x, cos, sin }, backend }) => rope(backend, x, cos, sin, x.shape as [number, number, number, number], false, false, false),
  [FUSED_ROPE_GRAD]: ({ inputs: { dy, cos, sin }, backend }) => rope(backend, dy, cos, sin, dy.shape as [number, number, number, number], false, false, true),
  // {x (B, T, H·D), cos, sin} attr heads → (B, H, T, D); gradient {dy (B, H, T, D), cos, sin} → (B, T, H·D).
  [FUSED_ROPE_HEADS]: ({ inputs: { x, cos, sin }, backend, attrs }) => {
    const H = attrs.heads as number;
    const [B, T, HD] = x.shape;
    return rope(backend, x, cos, sin, [B, H, T, HD / H], true, false, false);
  },
  [FUSED_ROPE_HEADS_GRAD]: ({ inputs: { dy, cos, sin }, backend }) => rope(backend, dy, cos, sin, dy.shape as [number, number, number, number], false, true, true),
  // {x} attrs {seed, threshold, scale} → dropoutValues on the device; its gradient is the same kernel on dy (lib/nn/dropout.ts).
  [FUSED_DROPOUT]: ({ inputs: { x }, backend, attrs }) => {
    const y = backend.makeDeviceOutput(x.shape);
    backend.addon.dropout(backend.devicePtr(x), backend.devicePtr(y), tf.util.sizeFromShape(x.shape), attrs.seed as number, attrs.threshold as number, attrs.scale as number);
    return y;
  },
  [FUSED_SWIGLU]: ({ inputs, backend }) => {
    const { g, u } = inputs;
    const y = backend.makeDeviceOutput(g.shape);
    backend.addon.swiglu(backend.devicePtr(g), backend.devicePtr(u), backend.devicePtr(y), tf.util.sizeFromShape(g.shape));
    return y;
  },
  [FUSED_SWIGLU_GRAD]: ({ inputs, backend }) => {
    const { g, u, dy } = inputs;
    const [dg, du] = [backend.makeDeviceOutput(g.shape), backend.makeDeviceOutput(g.shape)];
    backend.addon.swigluGrad(backend.devicePtr(g), backend.devicePtr(u), backend.devicePtr(dy), backend.devicePtr(dg), backend.devicePtr(du), tf.util.sizeFromShape(g.shape));
    return [dg, du];
  },
  [FUSED_RMS_NORM]: ({ inputs, backend, attrs }) => {
    const { x, weight } = inputs;
    const d = x.shape[x.shape.length - 1];
    const rows = tf.util.sizeFromShape(x.shape) / d;
    const [y, rstd] = [backend.makeDeviceOutput(x.shape), backend.makeDeviceOutput([rows])];
    backend.addon.rmsNorm(backend.devicePtr(x), backend.devicePtr(weight), backend.devicePtr(y), backend.devicePtr(rstd), rows, d, attrs.eps as number);
    return [y, rstd];
  },
  [FUSED_RMS_NORM_GRAD]: ({ inputs, backend }) => {
    const { x, weight, rstd, dy } = inputs;
    const d = x.shape[x.shape.length - 1];
    const rows = tf.util.sizeFromShape(x.shape) / d;
    const dx = backend.makeDeviceOutput(x.shape);
    backend.addon.rmsNormGrad(backend.devicePtr(x), backend.devicePtr(weight), backend.devicePtr(rstd), backend.devicePtr(dy), backend.devicePtr(dx), rows, d);
    return dx;
  },
  [FUSED_CROSS_ENTROPY]: ({ inputs, backend }) => {
    const { logits, ids, keep } = inputs;
    const [N, V] = logits.shape;
    const loss = backend.makeDeviceOutput([N]);
    const lse = backend.makeDeviceOutput([N]);
    backend.addon.ceForward(backend.devicePtr(logits), backend.indexPtr(ids), backend.devicePtr(keep), backend.devicePtr(loss), backend.devicePtr(lse), N, V);
    return [loss, lse];
  },
  [FUSED_CROSS_ENTROPY_GRAD]: ({ inputs, backend, attrs }) => {
    const { logits, ids, keep, lse, dy } = inputs;
    const [N, V] = logits.shape;
    const dx = backend.makeDeviceOutput([N, V]);
    backend.addon.ceBackward(backend.devicePtr(logits), backend.indexPtr(ids), backend.devicePtr(keep), backend.devicePtr(lse), backend.devicePtr(dy),
      attrs.invDenom as number, backend.devicePtr(dx), N, V);
    return dx;
  },
  // {hidden (N, h), weight (V, h), ids, keep} attrs invDenom, withGrad → [row loss (N), dhidden (N, h) or (1)].
  [FUSED_LM_HEAD_LOSS]: ({ inputs, backend, attrs }) => {
    const { hidden, weight, ids, keep } = inputs;
    const [N, H] = hidden.shape;
    const V = weight.shape[0];
    const withGrad = Boolean(attrs.withGrad);
    const loss = backend.makeDeviceOutput([N]);
    const dh = backend.makeDeviceOutput(withGrad ? [N, H] : [1]);
    const lse = backend.makeDeviceOutput([N]);
    const one = backend.uploadTemp(new Float32Array([1])); // the cross-entropy gradient's dy
    const rows = lmHeadChunkRows(N, V);
    const chunk = backend.makeDeviceOutput([rows, V]); // logits, then their gradient, of one chunk
    const [h, c] = [backend.devicePtr(hidden), backend.devicePtr(chunk)];
    // bf16 GEMMs round the weight once for all chunks (mode 3: B already bf16), not once per GEMM;
    // a weight stored in bf16 (storeAsBf16) is used as it is.
    const stored = backend.bf16Ptr(weight);
    let w = stored ?? backend.devicePtr(weight);
    let mode = stored === undefined ? backend.matmulMode() : 3;
    const w16 = mode === 2 ? { ptr: backend.addon.alloc(V * H * 2), bytes: V * H * 2 } : undefined;
    if (w16) {
      backend.addon.toBf16(w, w16.ptr, V * H);
      [w, mode] = [w16.ptr, 3];
    }
    const [idp, kp, lp, sp] = [backend.indexPtr(ids), backend.devicePtr(keep), backend.devicePtr(loss), backend.devicePtr(lse)];
    for (let r0 = 0; r0 < N; r0 += rows) {
      const n = Math.min(rows, N - r0);
      backend.addon.matmul(h + r0 * H * 4, w, c, 1, n, V, H, 0, 1, 0, 0, 0, mode); // (n, h) · (V, h)ᵀ
      backend.addon.ceForward(c, idp + r0 * 4, kp + r0 * 4, lp + r0 * 4, sp + r0 * 4, n, V);
      if (!withGrad) continue;
      backend.addon.ceBackward(c, idp + r0 * 4, kp + r0 * 4, sp + r0 * 4, one.ptr, attrs.invDenom as number, c, n, V); // in place
      backend.addon.matmul(c, w, backend.devicePtr(dh) + r0 * H * 4, 1, n, H, V, 0, 0, 0, 0, 0, mode); // (n, V) · (V, h)
    }
    backend.addon.free(one.ptr, one.bytes);
    if (w16) backend.addon.free(w16.ptr, w16.bytes);
    backend.disposeData(chunk.dataId);
    backend.disposeData(lse.dataId);
    return [loss, dh];
  },
  // {a, b (2-D), c?} attrs transposeA, transposeB, alpha → c + alpha·op(a)·op(b): c copied into the output, one GEMM with beta 1.
  [FUSED_MATMUL_ACC]: ({ inputs: { a, b, c }, backend, attrs }) => {
    const ta = Boolean(attrs.transposeA), tb = Boolean(attrs.transposeB);
    const [m, k] = ta ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
    const n = tb ? b.shape[0] : b.shape[1];
    const out = backend.makeDeviceOutput([m, n]);
    if (m * n === 0) return out;
    if (c) backend.addon.copy(backend.devicePtr(out), backend.devicePtr(c), m * n * 4);
    const b16 = backend.bf16Ptr(b);
    backend.addon.matmul(backend.devicePtr(a), b16 ?? backend.devicePtr(b), backend.devicePtr(out), 1, m, n, k, ta ? 1 : 0, tb ? 1 : 0, 0, 0, 0,
      b16 === undefined ? backend.matmulMode() : 3, attrs.alpha as number, c ? 1 : 0);
    return out;
  },
  [FUSED_ADAMW]: ({ inputs, backend, attrs }) => {
    const { p, g, m, v } = inputs;
    const n = tf.util.sizeFromShape(p.shape);
    const [po, mo, vo] = [backend.makeDeviceOutput(p.shape), backend.makeDeviceOutput(p.shape), backend.makeDeviceOutput(p.shape)];
    const at = attrs as Record<string, number>;
    backend.addon.adamwStep(backend.devicePtr(p), backend.devicePtr(g), backend.devicePtr(m), backend.devicePtr(v),
      backend.devicePtr(po), backend.devicePtr(mo), backend.devicePtr(vo), n, at.lr, at.beta1, at.beta2, at.eps, at.decay, at.stepSize, at.bc2Sqrt);
    return [po, mo, vo];
  },
};

/** Registers the fused kernels for the `cuda` backend. */
export function registerFusedKernels(backendName: string): void {
  for (const [kernelName, fn] of Object.entries(kernels)) replaceKernel(kernelName, backendName, fn as unknown as tf.KernelFunc);
}
