import * as fs from 'node:fs';
import * as path from 'node:path';

/** The native functions of build/Release/qlora_cuda.node (lib/backend/cuda/native/addon.cu). */
export interface CudaAddon {
  info(): { ok: boolean; reason?: string; name?: string; totalMemory?: number; computeCapability?: number };
  alloc(bytes: number): number;
  free(ptr: number, bytes: number): void;
  emptyCache(): void;
  /** Bytes, and `waits`: how many times the host has waited for the GPU (downloads, uploads over 1 MiB, sync()). */
  memoryStats(): { allocated: number; cached: number; peak: number; scratch: number; waits: number; deviceUsed?: number };
  resetPeak(): void;
  upload(ptr: number, values: Float32Array | Int32Array | Uint8Array): void;
  download(ptr: number, into: Float32Array | Int32Array): void;
  sync(): void;
  unary(op: number, x: number, y: number, n: number): void;
  binary(op: number, a: number, b: number, y: number, outShape: number[], aStrides: number[], bStrides: number[]): void;
  reduceRows(op: number, x: number, y: number, outer: number, inner: number): void;
  /** y (rows) int32 = the index of each row's largest value in x (rows, cols), tfjs ArgMax's choice (first maximum). */
  argmaxRows(x: number, y: number, rows: number, cols: number): void;
  softmaxRows(x: number, y: number, rows: number, cols: number, log: number): void;
  transpose(x: number, y: number, inShape: number[], perm: number[]): void;
  fill(y: number, n: number, value: number): void;
  copy(dst: number, src: number, bytes: number): void;
  /** Row-major C = alpha·op(A)·op(B) + beta·C (default 1, 0), batched; mode 0 fp32, 1 tf32, 2 bf16 operands (rounded on the fly), 3 bf16 with B already bf16, 4 bf16 with A already bf16. */
  matmul(a: number, b: number, c: number, batch: number, m: number, n: number, k: number, transA: number, transB: number,
    strideA: number, strideB: number, strideC: number, mode: number, alpha?: number, beta?: number): void;
  /** n float32 values rounded to bfloat16 (2 bytes each) at y: a GEMM operand for matmul mode 3. */
  toBf16(x: number, y: number, n: number): void;
  /** n bfloat16 values widened to float32. */
  fromBf16(x: number, y: number, n: number): void;
  strided(x: number, y: number, outShape: number[], inStrides: number[], base: number): void;
  copy2d(dst: number, dpitchBytes: number, src: number, spitchBytes: number, widthBytes: number, height: number): void;
  /** out (outer, Σ widths) float32 = the parts' (outer, widths[i]) rows side by side, in one kernel; 1 to 8 parts. */
  joinRows(out: number, parts: number[], widths: number[], outer: number): void;
  /** Rows of x (float32, or bfloat16 when xIsBf16) picked by int32 ids along one axis. */
  gather(x: number, idx: number, y: number, outer: number, axisSize: number, nIdx: number, inner: number, xIsBf16?: number): void;
  segmentSum(x: number, ids: number, y: number, nIds: number, inner: number, numSegments: number): void;
  oneHot(idx: number, y: number, nIdx: number, depth: number, on: number, off: number, asInt: number): void;
  intToFloat(x: number, y: number, n: number): void;
  select(cond: number, a: number, b: number, y: number, n: number, condInner: number): void;
  padTile(x: number, y: number, inShape: number[], outShape: number[], before: number[], value: number, tile: number): void;
  /** Fills n elements: kind 0 normal(a, b), 1 uniform [a, b) (float32), 2 random 32-bit words. */
  randomFill(y: number, n: number, seed: number, kind: number, a: number, b: number): void;
  /** Fused cross-entropy over rows of (N, V) logits: per-row loss and logsumexp; backward writes dx once. */
  ceForward(x: number, ids: number, keep: number, loss: number, lse: number, n: number, v: number): void;
  ceBackward(x: number, ids: number, keep: number, lse: number, dy: number, invDenom: number, dx: number, n: number, v: number): void;
  /** One AdamW step of one parameter into new buffers (po, mo, vo). */
  adamwStep(p: number, g: number, m: number, v: number, po: number, mo: number, vo: number, n: number,
    lr: number, b1: number, b2: number, eps: number, decay: number, stepSize: number, bc2s: number): void;
  /**
   * One 8-bit AdamW step of one parameter into new buffers (lib/backend/cuda/native/adamw8bit.cuh): codes c1, c2 one
   * byte per element, absmax a1, a2 one float per block of blockSize (≤ 4096), maps the 256-entry dynamic maps.
   */
  adamw8bitStep(p: number, g: number, c1: number, c2: number, a1: number, a2: number, map1: number, map2: number,
    po: number, c1o: number, c2o: number, a1o: number, a2o: number, n: number, blockSize: number,
    b1: number, b2: number, eps: number, shrink: number, stepSize: number, bc2Sqrt: number): void;
  /**
   * 4-bit weight (rows, cols) dequantized to a 16-bit type × activations rounded to it: y = x·Wᵀ, or x·W when gradInput;
   * dtype 0 bfloat16 (the default), 1 float16 (native/matmul4bit.cuh). A weight over QLORA_TS_CUDA_DEQUANT_CHUNK elements
   * (default 2²⁶) is dequantized and multiplied in slices of y's columns (its 16-bit copy never exists whole: at most 128 MiB of scratch).
   * The forward with n ≤ QLORA_TS_CUDA_GEMV_ROWS (default 4, at most 8; 0 turns it off) rows, cols a multiple of 8 and n·cols 16-bit
   * values within 48 KiB reads the packed codes directly in one GEMV kernel instead (decoding), with the same rounding.
   */
  matmul4(x: number, packed: number, code: number, scale: number, y: number, n: number, rows: number, cols: number, shift: number, gradInput: number, dtype?: number): void;
  /**
   * Bits set by float16 matmul4 calls since the last reset: 1 an activation, 2 a dequantized weight value was beyond ±65504 and
   * became ±inf. Read without waiting for the GPU (queued calls have not set theirs yet); reset (after sync()) zeroes them.
   */
  float16Overflow(reset?: number): number;
  /** Rotary embedding (grad 0) or its gradient (grad 1); each side (B, T, H, D) when its flag is 1, else (B, H, T, D); cos/sin (B, T, D). */
  rope(x: number, cos: number, sin: number, y: number, b: number, h: number, t: number, d: number, inBTHD: number, outBTHD: number, grad: number): void;
  /** y = x · scale where the hash of (seed, index) >>> 8 ≥ threshold, else 0 (lib/nn/dropout.ts's dropoutValues; x may be y). */
  dropout(x: number, y: number, n: number, seed: number, threshold: number, scale: number): void;
  swiglu(g: number, u: number, y: number, n: number): void;
  swigluGrad(g: number, u: number, dy: number, dg: number, du: number, n: number): void;
  rmsNorm(x: number, w: number, y: number, rstd: number, rows: number, d: number, eps: number): void;
  rmsNormGrad(x: number, w: number, rstd: number, dy: number, dx: number, rows: number, d: number): void;
  /**
   * softmax(x·scale + mask) over rows of x (B, H, T, S), mask (B, T, S) when maskBatched, else (T, S);
   * y may be x (in place); a nonzero y16 also gets the result in bf16 (an A operand for matmul mode 4).
   */
  maskedSoftmax(x: number, mask: number, y: number, b: number, h: number, t: number, s: number, scale: number, maskBatched: number, y16?: number): void;
  softmaxGrad(p: number, dy: number, dx: number, rows: number, s: number, scale: number): void;
  /**
   * Flash-style attention (native/flash_attention.cuh), head size 64 or 128. Each operand is a view [pointer, batch, head, row
   * strides in elements]; dims [B, H, Hkv, T, S, D, maskBatched, causal]; stats (B·H, T, 2) gets each row's max and 1/Σexp;
   * kvScratch holds bf16 copies of k and v (flashKvBytes in flash.ts).
   */
  flashForward(q: number[], k: number[], v: number[], o: number[], mask: number, stats: number, dims: number[], scale: number, kvScratch: number): void;
  /**
   * Its gradient: dq (B, H, T, D) contiguous (written by a GEMM over dS), dk and dv views of whole buffers (zeroed and
   * summed with atomics); delta a scratch of B·H·T floats; scratch the bf16 k, v copies and dS (flashBackwardScratchBytes).
   */
  flashBackward(q: number[], k: number[], v: number[], dO: number[], o: number[], dq: number, dk: number[], dv: number[],
    mask: number, stats: number, delta: number, dims: number[], scale: number, scratch: number): void;
  nestedScales(words: number, nestedCode: number, nestedAbsmax: number, scale: number, nBlocks: number, nestedBlocksize: number, offset: number): void;
  dequant4(packed: number, code: number, scale: number, y: number, rows: number, cols: number, shift: number, transpose: number): void;
}

/** Where the addon is looked for: the package's build/Release, or QLORA_TS_CUDA_ADDON. */
export function addonPath(): string {
  if (process.env.QLORA_TS_CUDA_ADDON) return process.env.QLORA_TS_CUDA_ADDON;
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, 'build', 'Release', 'qlora_cuda.node');
}

/** Loads the addon, or says in one sentence why the cuda backend cannot run here. */
export function loadAddon(): { addon?: CudaAddon; reason?: string } {
  const file = addonPath();
  if (!fs.existsSync(file)) {
    return { reason: `the CUDA addon ${file} was not built (no nvcc when the package was installed). Install the CUDA toolkit and run \`npm run build:cuda\`` };
  }
  let addon: CudaAddon;
  try {
    addon = require(file) as CudaAddon;
  } catch (e) {
    return { reason: `the CUDA addon ${file} did not load: ${(e as Error).message}` };
  }
  const info = addon.info();
  if (!info.ok) return { reason: `${info.reason ?? 'no GPU'} (addon ${file})` };
  return { addon };
}

export const UNARY = { Neg: 0, Exp: 1, Log: 2, Sqrt: 3, Rsqrt: 4, Sigmoid: 5, Tanh: 6, Relu: 7, Abs: 8, Square: 9, Reciprocal: 10, Sin: 11, Cos: 12, Erf: 14, Log1p: 15, Expm1: 16, Sign: 17 } as const;
export const BINARY = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Maximum: 4, Minimum: 5, Pow: 6, SquaredDifference: 7 } as const;
export const REDUCE = { Sum: 0, Max: 1, Min: 2, Mean: 3 } as const;
