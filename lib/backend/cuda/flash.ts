import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { CudaBackend } from './backend';

/**
 * Flash-style attention on the cuda backend (native/flash_attention.cuh): the (T, S) scores never
 * reach device memory. The forward pass keeps per query row the max of the scaled masked scores
 * and 1/Σexp, (B·H, T, 2), in place of the (B, H, T, S) probabilities; the backward pass rebuilds
 * the probabilities from them block by block.
 */

/** The kernels' head sizes; other shapes keep the GEMM + softmax path. */
const FLASH_HEAD_DIMS = [64, 128];

/**
 * Whether attention with head size D over T query rows and S keys runs the flash kernels: when
 * matmuls are bf16 (the kernels multiply on bf16 tensor cores), T is more than a decode step and
 * there is no past (S = T: training and a first prefill; the kernels take S > T, but no device
 * check covers it yet). QLORA_TS_CUDA_FLASH=0 turns them off (the benches compare both in one process).
 */
export function useFlash(backend: CudaBackend, D: number, T: number, S: number): boolean {
  return backend.matmulMode() === 2 && FLASH_HEAD_DIMS.includes(D) && T >= 16 && S === T && process.env.QLORA_TS_CUDA_FLASH !== '0';
}

/** Whether `stats` came from flashForward ((B·H, T, 2)) rather than being probabilities ((B, H, T, S)). */
export function isFlashStats(stats: TensorInfo): boolean {
  return stats.shape.length === 3;
}

/**
 * How a kernel sees one operand: (B, heads, rows, D) storage, or (B, rows, heads·D) when
 * `tokens` (a projection's output, heads not split). [pointer, batch, head, row strides].
 */
export interface FlashOperand {
  t: TensorInfo;
  heads: number;
  tokens?: boolean;
}

function view(backend: CudaBackend, { t, heads, tokens }: FlashOperand, rows: number, D: number): number[] {
  const ptr = backend.devicePtr(t);
  return tokens ? [ptr, rows * heads * D, D, heads * D] : [ptr, heads * rows * D, rows * D, D];
}

export interface FlashShape { B: number; H: number; Hkv: number; T: number; S: number; D: number; scale: number; causal: boolean }

/** S rounded up to the kernels' 64-key blocks: rows of the bf16 k/v copies and the row length of dS. */
function paddedKeys(s: FlashShape): number {
  return Math.ceil(s.S / 64) * 64;
}

/** Bytes of the bf16 copies of k and v ((B, Hkv, Sp, D) each) that the kernels copy tiles from. */
function kvScratchBytes(s: FlashShape): number {
  return 2 * s.B * s.Hkv * paddedKeys(s) * s.D * 2;
}

function dims(s: FlashShape, mask: TensorInfo): number[] {
  return [s.B, s.H, s.Hkv, s.T, s.S, s.D, mask.shape[0] === 1 ? 0 : 1, s.causal ? 1 : 0];
}

/**
 * O = softmax(q·kᵀ·scale + mask)·v into `out` (a new tensor in out's layout), with the row
 * statistics for the backward pass. q, out have H heads of T rows; k, v Hkv heads of S rows.
 */
export function flashForward(backend: CudaBackend, q: FlashOperand, k: FlashOperand, v: FlashOperand, mask: TensorInfo, s: FlashShape, outTokens: boolean): [TensorInfo, TensorInfo] {
  const out = backend.makeDeviceOutput(outTokens ? [s.B, s.T, s.H * s.D] : [s.B, s.H, s.T, s.D]);
  const stats = backend.makeDeviceOutput([s.B * s.H, s.T, 2]); // per row: max, 1/Σexp
  const kvBytes = kvScratchBytes(s);
  const kv = backend.addon.alloc(kvBytes);
  backend.addon.flashForward(view(backend, q, s.T, s.D), view(backend, k, s.S, s.D), view(backend, v, s.S, s.D),
    view(backend, { t: out, heads: s.H, tokens: outTokens }, s.T, s.D), backend.devicePtr(mask), backend.devicePtr(stats), dims(s, mask), s.scale, kv);
  backend.addon.free(kv, kvBytes); // stream-ordered, as below
  return [out, stats];
}

/**
 * The gradient of flashForward: dq (B, H, T, D), and dk, dv with Hkv heads of S rows in the
 * layout `kvTokens` names. dout and out are read in their own layouts.
 */
export function flashBackward(backend: CudaBackend, dout: FlashOperand, out: FlashOperand, q: FlashOperand, k: FlashOperand, v: FlashOperand,
  stats: TensorInfo, mask: TensorInfo, s: FlashShape, kvTokens: boolean): [TensorInfo, TensorInfo, TensorInfo] {
  const dq = backend.makeDeviceOutput([s.B, s.H, s.T, s.D]);
  const kvShape = kvTokens ? [s.B, s.S, s.Hkv * s.D] : [s.B, s.Hkv, s.S, s.D];
  const dk = backend.makeDeviceOutput(kvShape), dv = backend.makeDeviceOutput(kvShape);
  const rows = s.B * s.H * s.T;
  const delta = backend.addon.alloc(rows * 4); // rowsum(dO ∘ O)
  // bf16 k and v copies, then dS (B, H, T, Sp) bf16: dq is one GEMM over dS after the kernel (no atomics).
  const scratchBytes = kvScratchBytes(s) + rows * paddedKeys(s) * 2;
  const scratch = backend.addon.alloc(scratchBytes);
  backend.addon.flashBackward(view(backend, q, s.T, s.D), view(backend, k, s.S, s.D), view(backend, v, s.S, s.D),
    view(backend, dout, s.T, s.D), view(backend, out, s.T, s.D), backend.devicePtr(dq),
    view(backend, { t: dk, heads: s.Hkv, tokens: kvTokens }, s.S, s.D), view(backend, { t: dv, heads: s.Hkv, tokens: kvTokens }, s.S, s.D),
    backend.devicePtr(mask), backend.devicePtr(stats), delta, dims(s, mask), s.scale, scratch);
  backend.addon.free(delta, rows * 4); // stream-ordered: a later kernel reusing it runs after this one
  backend.addon.free(scratch, scratchBytes);
  return [dq, dk, dv];
}
