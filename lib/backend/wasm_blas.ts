import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * OpenBLAS's sgemm for the wasm backend's matmuls, through build/Release/qlora_blas.node
 * (lib/backend/native/blas.cc, built at install by scripts/build-addon.js blas). WebAssembly SIMD is
 * 128 bits wide without fused multiply-add; OpenBLAS's AVX2/FMA kernels multiply the training
 * step's shapes ≈ 2× faster per core than XNNPACK does in wasm. The product runs in place on the
 * wasm heap: no copies. Off with QLORA_TS_BLAS=0; QLORA_TS_BLAS_LIB names the library;
 * QLORA_TS_BLAS_THREADS sets OpenBLAS's threads (default 1, like the wasm backend's default).
 * QLORA_TS_BLAS_CORETYPE picks OpenBLAS's kernels (default `auto`: its AVX-512 SkylakeX kernels
 * where the CPU has AVX-512, which OpenBLAS 0.3.21 does not choose on AMD CPUs by itself;
 * an OpenBLAS core name; or empty for OpenBLAS's own choice); OPENBLAS_CORETYPE, when set, wins.
 */
export interface NativeBlas {
  /** The library that provided cblas_sgemm. */
  lib: string;
  /** OpenBLAS's thread count (0 when the library does not say). */
  threads: number;
  /** OpenBLAS's kernel family ("Haswell", "SkylakeX", …; empty when the library does not say). */
  core: string;
  /** For `batch` entries: C (M, N) = op(A) · op(B), row-major; byte offsets into `heap`, strides in floats. */
  sgemm(heap: Uint8Array, transA: boolean, transB: boolean, M: number, N: number, K: number,
    aByte: number, bByte: number, cByte: number, batch: number, aStride: number, bStride: number, cStride: number): void;
  /** The addon's fused kernels (native/fused.cc), on the same heap; byte offsets, then sizes. */
  fused: NativeFused;
}

/** Kernels of native/fused.cc; the contracts are those of the FUSED_* kernel names in lib/nn. */
export interface NativeFused {
  attention(heap: Uint8Array, q: number, k: number, v: number, mask: number, out: number, probs: number,
    B: number, H: number, Hkv: number, T: number, S: number, D: number, maskBatch: number, scale: number): void;
  attentionGrad(heap: Uint8Array, dout: number, q: number, k: number, v: number, probs: number, dq: number, dk: number, dv: number,
    B: number, H: number, Hkv: number, T: number, S: number, D: number, scale: number): void;
  ropeAttention(heap: Uint8Array, q: number, k: number, v: number, cos: number, sin: number, mask: number, out: number, qr: number, kr: number, vh: number, probs: number,
    B: number, H: number, Hkv: number, T: number, D: number, maskBatch: number, scale: number): void;
  ropeAttentionGrad(heap: Uint8Array, dout: number, qr: number, kr: number, vh: number, probs: number, cos: number, sin: number, dq: number, dk: number, dv: number,
    B: number, H: number, Hkv: number, T: number, D: number, scale: number): void;
  swiglu(heap: Uint8Array, g: number, u: number, y: number, n: number): void;
  swigluGrad(heap: Uint8Array, g: number, u: number, dy: number, dg: number, du: number, n: number): void;
  /** y = x · scale where dropoutHash(seed, i) >>> 8 ≥ threshold, else 0 (lib/nn/dropout.ts); absent from addons built before it. */
  dropout?(heap: Uint8Array, x: number, y: number, n: number, seed: number, threshold: number, scale: number): void;
  /** lib/quant/dequantize_op.ts's dequantizeWords on the heap (offsets, then rows, cols, blocksize, transpose, nested, nestedBlocksize, offset); absent from addons built before it. */
  dequant4?(heap: Uint8Array, packed: number, code: number, absmax: number, nestedAbsmax: number, nestedCode: number, out: number,
    rows: number, cols: number, blocksize: number, transpose: number, nested: number, nestedBlocksize: number, offset: number): void;
  rmsNorm(heap: Uint8Array, x: number, weight: number, y: number, rstd: number, N: number, D: number, eps: number): void;
  rmsNormGrad(heap: Uint8Array, dy: number, x: number, weight: number, rstd: number, dx: number, N: number, D: number): void;
  rmsNormWeightGrad(heap: Uint8Array, x: number, rstd: number, dy: number, dweight: number, N: number, D: number): void;
  /** sign 1: the rotation; −1: its transpose (the gradient). */
  rope(heap: Uint8Array, x: number, cos: number, sin: number, y: number, B: number, H: number, T: number, D: number, sign: number): void;
  crossEntropy(heap: Uint8Array, logits: number, ids: number, keep: number, loss: number, lse: number, N: number, V: number): void;
  /** `scale` = dy · invDenom. */
  crossEntropyGrad(heap: Uint8Array, logits: number, ids: number, keep: number, lse: number, dlogits: number, N: number, V: number, scale: number): void;
}

interface Addon extends NativeFused {
  load(candidates: string[], coretype: string): string;
  threads(n: number): number;
  core?(): string;
  sgemm(heap: Uint8Array, ta: number, tb: number, M: number, N: number, K: number, a: number, b: number, c: number, batch: number, sa: number, sb: number, sc: number): void;
}

/** The addon's path: the package's build/Release, or QLORA_TS_BLAS_ADDON. */
export function blasAddonPath(): string {
  if (process.env.QLORA_TS_BLAS_ADDON) return process.env.QLORA_TS_BLAS_ADDON;
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, 'build', 'Release', 'qlora_blas.node');
}

let loaded: { blas?: NativeBlas; reason?: string } | undefined;

/** OpenBLAS when the addon and the library load (once per process); otherwise undefined, and `nativeBlasReason()` says why. */
export function nativeBlas(): NativeBlas | undefined {
  loaded ??= load();
  return loaded.blas;
}

export function nativeBlasReason(): string | undefined {
  loaded ??= load();
  return loaded.reason;
}

function load(): { blas?: NativeBlas; reason?: string } {
  if (process.env.QLORA_TS_BLAS === '0') return { reason: 'QLORA_TS_BLAS=0' };
  const file = blasAddonPath();
  if (!fs.existsSync(file)) return { reason: `${file} is not built (node scripts/build-addon.js blas)` };
  try {
    const addon = require(file) as Addon;
    const lib = addon.load(process.env.QLORA_TS_BLAS_LIB ? [process.env.QLORA_TS_BLAS_LIB] : ['libopenblas.so.0', 'libopenblas.so', 'libopenblas.dylib'],
      process.env.QLORA_TS_BLAS_CORETYPE ?? 'auto');
    const threads = addon.threads(Number(process.env.QLORA_TS_BLAS_THREADS || 1));
    return {
      blas: {
        lib,
        threads,
        core: addon.core?.() ?? '',
        sgemm: (heap, ta, tb, M, N, K, a, b, c, batch, sa, sb, sc) => addon.sgemm(heap, ta ? 1 : 0, tb ? 1 : 0, M, N, K, a, b, c, batch, sa, sb, sc),
        fused: addon,
      },
    };
  } catch (e) {
    return { reason: (e as Error).message.split('\n')[0] };
  }
}
