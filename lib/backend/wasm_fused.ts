import * as tf from '@tensorflow/tfjs-core';
import { FUSED_ATTENTION, FUSED_ATTENTION_GRAD, FUSED_ROPE_ATTENTION, FUSED_ROPE_ATTENTION_GRAD } from '../nn/attention';
import { FUSED_CROSS_ENTROPY, FUSED_CROSS_ENTROPY_GRAD } from '../nn/cross_entropy';
import { FUSED_RMS_NORM, FUSED_RMS_NORM_GRAD, FUSED_RMS_NORM_WEIGHT_GRAD } from '../nn/rms_norm';
import { FUSED_ROPE, FUSED_ROPE_GRAD } from '../nn/rope';
import { FUSED_SWIGLU, FUSED_SWIGLU_GRAD } from '../nn/swiglu';
import { FUSED_DROPOUT } from '../nn/dropout';
import { DEQUANTIZE_4BIT, registerHostDequantizeKernel, type Dequantize4bitAttrs } from '../quant/dequantize_op';
import { nativeBlas, type NativeFused } from './wasm_blas';
import { replaceKernel } from './kernel_registry';
import { floatOutput as out, heapF32, heapOffsets, wasmKernelFunc, type WasmBackendLike, type WasmKernel as Kernel } from './wasm_heap';
import { registerWasmKernels } from './wasm_kernels';

/**
 * Native fused kernels for the wasm backend, each one call of the CPU addon (native/fused.cc) in
 * place on the wasm heap: `ropeAttention` (the projections' outputs to o_proj's input: head split,
 * RoPE, scores, mask, softmax, ·V, head merge; sgemm inside, no transposes) and its backward, plain
 * attention (scale + mask + softmax between two sgemm per group of query heads; backward as four
 * sgemm around the softmax gradient), SwiGLU, dropout, NF4/FP4 dequantization, and RMSNorm, RoPE and cross-entropy (3–10× faster
 * than wasm_kernels.ts's JS loops, which they replace under the same kernel names). A training
 * step's composite attention is ≈ 15 tfjs kernels forward and ≈ 30 backward, SwiGLU 3 and ≈ 8;
 * each small tfjs kernel costs 10–50 µs of engine and tape bookkeeping beyond its arithmetic,
 * which is where the step lost to PyTorch. Registered only where the addon and OpenBLAS load;
 * elsewhere the public ops (lib/nn) keep their composite forms and the JS kernels.
 *
 * Every output is made before the heap is handed to the addon (an allocation may replace the
 * heap's buffer).
 */


const f32 = (name: string, ...ts: tf.TensorInfo[]) => {
  for (const t of ts) if (t.dtype !== 'float32') throw new Error(`${name} on wasm: inputs must be float32, got ${t.dtype}`);
};

function kernels(fused: NativeFused): Array<[string, Kernel]> {
  /** {q (B, H, T, D), k, v (B, Hkv, S, D), mask (B or 1, 1, T, S)} attr scale → [out (B, H, T, D), probs (B, H, T, S)]. */
  const attention: Kernel = ({ q, k, v, mask }, be, { scale }) => {
    f32(FUSED_ATTENTION, q, k, v, mask);
    const [B, H, T, D] = q.shape;
    const [, Hkv, S] = k.shape;
    const o = out(be, [B, H, T, D]);
    const probs = out(be, [B, H, T, S]);
    fused.attention(be.wasm.HEAPU8, ...heapOffsets(be, q, k, v, mask, o, probs), B, H, Hkv, T, S, D, mask.shape[0], scale);
    return [o, probs];
  };
  /** {dout, q, k, v, probs} attr scale → [dq, dk, dv]. */
  const attentionGrad: Kernel = ({ dout, q, k, v, probs }, be, { scale }) => {
    f32(FUSED_ATTENTION_GRAD, dout, q, k, v, probs);
    const [B, H, T, D] = q.shape;
    const [, Hkv, S] = k.shape;
    const [dq, dk, dv] = [q.shape, k.shape, v.shape].map((s) => out(be, s));
    fused.attentionGrad(be.wasm.HEAPU8, ...heapOffsets(be, dout, q, k, v, probs, dq, dk, dv), B, H, Hkv, T, S, D, scale);
    return [dq, dk, dv];
  };
  /** {q (B, T, H·D), k, v (B, T, Hkv·D), cos, sin (B, 1, T, D), mask (B or 1, 1, T, T)} → [out (B, T, H·D), qr, kr, vh, probs]. */
  const ropeAttention: Kernel = ({ q, k, v, cos, sin, mask }, be, { numHeads: H, numKvHeads: Hkv, scale }) => {
    f32(FUSED_ROPE_ATTENTION, q, k, v, cos, sin, mask);
    const [B, T, HD] = q.shape;
    const D = HD / H;
    const [o, qr, kr, vh, probs] = [q.shape, [B, H, T, D], [B, Hkv, T, D], [B, Hkv, T, D], [B, H, T, T]].map((s) => out(be, s));
    fused.ropeAttention(be.wasm.HEAPU8, ...heapOffsets(be, q, k, v, cos, sin, mask, o, qr, kr, vh, probs), B, H, Hkv, T, D, mask.shape[0], scale);
    return [o, qr, kr, vh, probs];
  };
  /** {dout, qr, kr, vh, probs, cos, sin} → [dq (B, T, H·D), dk, dv (B, T, Hkv·D)]. */
  const ropeAttentionGrad: Kernel = ({ dout, qr, kr, vh, probs, cos, sin }, be, { numHeads: H, numKvHeads: Hkv, scale }) => {
    f32(FUSED_ROPE_ATTENTION_GRAD, dout, qr, kr, vh, probs, cos, sin);
    const [B, T, HD] = dout.shape;
    const D = HD / H;
    const [dq, dk, dv] = [dout.shape, [B, T, Hkv * D], [B, T, Hkv * D]].map((s) => out(be, s));
    fused.ropeAttentionGrad(be.wasm.HEAPU8, ...heapOffsets(be, dout, qr, kr, vh, probs, cos, sin, dq, dk, dv), B, H, Hkv, T, D, scale);
    return [dq, dk, dv];
  };
  /** {g, u} → silu(g)·u. */
  const swiglu: Kernel = ({ g, u }, be) => {
    f32(FUSED_SWIGLU, g, u);
    const y = out(be, g.shape);
    fused.swiglu(be.wasm.HEAPU8, ...heapOffsets(be, g, u, y), tf.util.sizeFromShape(g.shape));
    return y;
  };
  /** {g, u, dy} → [dg, du]. */
  const swigluGrad: Kernel = ({ g, u, dy }, be) => {
    f32(FUSED_SWIGLU_GRAD, g, u, dy);
    const dg = out(be, g.shape);
    const du = out(be, u.shape);
    fused.swigluGrad(be.wasm.HEAPU8, ...heapOffsets(be, g, u, dy, dg, du), tf.util.sizeFromShape(g.shape));
    return [dg, du];
  };
  /** {x (…, D), weight (D)} attr eps → [y, rstd (rows)]. */
  const rmsNorm: Kernel = ({ x, weight }, be, { eps }) => {
    f32(FUSED_RMS_NORM, x, weight);
    const D = weight.shape[0];
    const N = tf.util.sizeFromShape(x.shape) / D;
    const y = out(be, x.shape);
    const rstd = out(be, [N]);
    fused.rmsNorm(be.wasm.HEAPU8, ...heapOffsets(be, x, weight, y, rstd), N, D, eps);
    return [y, rstd];
  };
  /** {x, weight, rstd, dy} → dx. */
  const rmsNormGrad: Kernel = ({ dy, x, weight, rstd }, be) => {
    f32(FUSED_RMS_NORM_GRAD, dy, x, weight, rstd);
    const D = weight.shape[0];
    const dx = out(be, x.shape);
    fused.rmsNormGrad(be.wasm.HEAPU8, ...heapOffsets(be, dy, x, weight, rstd, dx), tf.util.sizeFromShape(x.shape) / D, D);
    return dx;
  };
  /** {x (…, D), rstd (rows), dy} → dweight (D). */
  const rmsNormWeightGrad: Kernel = ({ x, rstd, dy }, be) => {
    f32(FUSED_RMS_NORM_WEIGHT_GRAD, x, rstd, dy);
    const D = x.shape[x.shape.length - 1];
    const dw = out(be, [D]);
    fused.rmsNormWeightGrad(be.wasm.HEAPU8, ...heapOffsets(be, x, rstd, dy, dw), tf.util.sizeFromShape(x.shape) / D, D);
    return dw;
  };
  /** {x (B, H, T, D), cos, sin (B, 1, T, D)} → the rotation; its gradient {dy, cos, sin} → the transpose. */
  const rotary = (name: string, x: tf.TensorInfo, cos: tf.TensorInfo, sin: tf.TensorInfo, be: WasmBackendLike, sign: number) => {
    f32(name, x, cos, sin);
    const [B, H, T, D] = x.shape;
    const y = out(be, x.shape);
    fused.rope(be.wasm.HEAPU8, ...heapOffsets(be, x, cos, sin, y), B, H, T, D, sign);
    return y;
  };
  const rope: Kernel = ({ x, cos, sin }, be) => rotary(FUSED_ROPE, x, cos, sin, be, 1);
  const ropeGrad: Kernel = ({ dy, cos, sin }, be) => rotary(FUSED_ROPE_GRAD, dy, cos, sin, be, -1);
  /** {logits (N, V), ids int32 (N), keep (N)} → [row loss (N), logsumexp (N)]. */
  const crossEntropy: Kernel = ({ logits, ids, keep }, be) => {
    f32(FUSED_CROSS_ENTROPY, logits, keep);
    const [N, V] = logits.shape;
    const loss = out(be, [N]);
    const lse = out(be, [N]);
    fused.crossEntropy(be.wasm.HEAPU8, ...heapOffsets(be, logits, ids, keep, loss, lse), N, V);
    return [loss, lse];
  };
  /** {logits, ids, keep, lse, dy} attr invDenom → dlogits (N, V). */
  const crossEntropyGrad: Kernel = ({ logits, ids, keep, lse, dy }, be, { invDenom }) => {
    f32(FUSED_CROSS_ENTROPY_GRAD, logits, keep, lse, dy);
    const [N, V] = logits.shape;
    const dx = out(be, [N, V]);
    fused.crossEntropyGrad(be.wasm.HEAPU8, ...heapOffsets(be, logits, ids, keep, lse, dx), N, V, heapF32(be, dy)[0] * invDenom);
    return dx;
  };
  /** {x} attrs {seed, threshold, scale} → lib/nn/dropout.ts's dropoutValues, on the heap. */
  const dropout = (run: NonNullable<NativeFused['dropout']>): Kernel => ({ x }, be, { seed, threshold, scale }) => {
    f32(FUSED_DROPOUT, x);
    const y = out(be, x.shape);
    run(be.wasm.HEAPU8, ...heapOffsets(be, x, y), tf.util.sizeFromShape(x.shape), seed, threshold, scale);
    return y;
  };
  /** Dequantize4bit's inputs and attrs → the float32 weight (out, in) or its transpose, on the heap (the host kernel's numbers). */
  const dequant4 = (run: NonNullable<NativeFused['dequant4']>): Kernel => (inputs, be, attrs) => {
    const a = attrs as unknown as Dequantize4bitAttrs;
    const [rows, cols] = a.shape;
    const y = out(be, a.transpose ? [cols, rows] : [rows, cols]);
    const [packed, code, absmax, y0] = heapOffsets(be, inputs.packed, inputs.code, inputs.absmax, y);
    const [nestedAbsmax, nestedCode] = a.nested ? heapOffsets(be, inputs.nestedAbsmax, inputs.nestedCode) : [0, 0];
    run(be.wasm.HEAPU8, packed, code, absmax, nestedAbsmax, nestedCode, y0, rows, cols, a.blocksize, a.transpose ? 1 : 0, a.nested ? 1 : 0, a.nestedBlocksize, a.offset);
    return y;
  };
  return [
    ...(fused.dropout ? [[FUSED_DROPOUT, dropout(fused.dropout.bind(fused))] as [string, Kernel]] : []),
    ...(fused.dequant4 ? [[DEQUANTIZE_4BIT, dequant4(fused.dequant4.bind(fused))] as [string, Kernel]] : []),
    [FUSED_ROPE_ATTENTION, ropeAttention], [FUSED_ROPE_ATTENTION_GRAD, ropeAttentionGrad],
    [FUSED_ATTENTION, attention], [FUSED_ATTENTION_GRAD, attentionGrad],
    [FUSED_SWIGLU, swiglu], [FUSED_SWIGLU_GRAD, swigluGrad],
    [FUSED_RMS_NORM, rmsNorm], [FUSED_RMS_NORM_GRAD, rmsNormGrad], [FUSED_RMS_NORM_WEIGHT_GRAD, rmsNormWeightGrad],
    [FUSED_ROPE, rope], [FUSED_ROPE_GRAD, ropeGrad],
    [FUSED_CROSS_ENTROPY, crossEntropy], [FUSED_CROSS_ENTROPY_GRAD, crossEntropyGrad],
  ];
}

let registered: string[] = [];

/**
 * Registers the native fused kernels for 'wasm' when the addon and OpenBLAS load (idempotent);
 * returns whether they are registered. QLORA_TS_FUSED=0 leaves them out (for comparisons).
 */
export function registerWasmFusedKernels(): boolean {
  if (registered.length > 0) return true;
  const fused = nativeBlas()?.fused;
  if (process.env.QLORA_TS_FUSED === '0' || typeof fused?.ropeAttentionGrad !== 'function') return false; // off, or an addon built before fused.cc
  for (const [name, k] of kernels(fused)) {
    replaceKernel(name, 'wasm', wasmKernelFunc(k)); // over wasm_kernels.ts's JS form where it has one
    registered.push(name);
  }
  return true;
}

/**
 * Removes them again, putting back wasm_kernels.ts's JS kernels (tests compare the forms on one
 * backend); returns whether they were registered.
 */
export function unregisterWasmFusedKernels(): boolean {
  if (registered.length === 0) return false;
  for (const name of registered) tf.unregisterKernel(name, 'wasm');
  registered = [];
  registerWasmKernels();
  registerHostDequantizeKernel('wasm');
  return true;
}
