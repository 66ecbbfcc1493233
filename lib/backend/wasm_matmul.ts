import * as tf from '@tensorflow/tfjs-core';
import { nativeBlas, type NativeBlas } from './wasm_blas';
import { HeapMatMul, heapF32, heapOffset, replaceWasmKernel, transposeBlocks, type WasmBackendLike } from './wasm_heap';

let blasEnabled = true;

/** Turns the OpenBLAS path on or off (when OpenBLAS loaded at all); returns the previous setting. For comparisons. */
export function useNativeBlas(on: boolean): boolean {
  const was = blasEnabled;
  blasEnabled = on;
  return was;
}

/**
 * The wasm backend's BatchMatMul has one fast path, XNNPACK's dense product for a single
 * untransposed pair; with transposeA/transposeB it is ≈ 12× slower than transposing first
 * (NOTES.md), and with a batch (attention's (B, H, T, D) products) ≈ 8× slower than one dense
 * product per batch entry. This re-registers the kernel so that transposed operands are transposed
 * explicitly first (a tiled JS loop on the heap: 2–4× faster than the wasm Transpose kernel on
 * (512, 688) and (512, 1024), whose power-of-two row strides thrash its cache), and a batch runs
 * as one dense product per entry on views of the operands (no copies). Gradients of matMul use
 * transposes and attention's backward uses batches, so every backward pass benefits. Where
 * OpenBLAS is available (wasm_blas.ts) float32 products go to its sgemm instead, transposes
 * included, in place on the heap. Idempotent.
 */
export function patchWasmBatchMatMul(): boolean {
  return replaceWasmKernel('BatchMatMul', (original) => {
    const blas = nativeBlas();
    return ({ inputs, backend, attrs }) => {
      const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
      const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
      if (blas && blasEnabled && a.dtype === 'float32' && b.dtype === 'float32') {
        const out = blasProduct(blas, backend as WasmBackendLike, a, b, transposeA, transposeB, batchA, batchB);
        if (out) return out;
      }
      if (!transposeA && !transposeB && batchA === 1 && batchB === 1) return original.kernelFunc({ inputs, backend, attrs });
      const made: tf.TensorInfo[] = [];
      const swapLast = (x: tf.TensorInfo): tf.TensorInfo => {
        const [R, C] = x.shape.slice(-2);
        const be = backend as WasmBackendLike;
        const out = be.makeOutput([...x.shape.slice(0, -2), C, R], 'float32');
        transposeBlocks(heapF32(be, x), heapF32(be, out), tf.util.sizeFromShape(x.shape) / (R * C), R, C);
        made.push(out);
        return out;
      };
      const a2 = transposeA ? swapLast(a) : a;
      const b2 = transposeB ? swapLast(b) : b;
      const plain = { ...attrs, transposeA: false, transposeB: false };
      const batchDimsA = a2.shape.slice(0, -2);
      const batchDimsB = b2.shape.slice(0, -2);
      const sameBatch = batchDimsA.length === batchDimsB.length && batchDimsA.every((d, i) => d === batchDimsB[i]);
      let out: tf.TensorInfo;
      if ((batchA === 1 && batchB === 1) || !(sameBatch || batchA === 1 || batchB === 1)) {
        out = original.kernelFunc({ inputs: { a: a2, b: b2 }, backend, attrs: plain }) as tf.TensorInfo;
      } else {
        out = batchedByEntry(backend as WasmBackendLike, a2, b2, batchA, batchB);
      }
      for (const t of made) (backend as tf.KernelBackend).disposeData(t.dataId);
      return out;
    };
  });
}

/** op(a) · op(b) by OpenBLAS with batch dims equal or one side unbatched; undefined for other broadcasts. */
function blasProduct(blas: NativeBlas, be: WasmBackendLike, a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean, batchA: number, batchB: number): tf.TensorInfo | undefined {
  const dimsA = a.shape.slice(0, -2);
  const dimsB = b.shape.slice(0, -2);
  const same = dimsA.length === dimsB.length && dimsA.every((d, i) => d === dimsB[i]);
  if (!same && batchA !== 1 && batchB !== 1) return undefined;
  const [ra, ca] = a.shape.slice(-2);
  const [rb, cb] = b.shape.slice(-2);
  const [M, K] = transposeA ? [ca, ra] : [ra, ca];
  const N = transposeB ? rb : cb;
  if ((transposeB ? cb : rb) !== K) throw new Error(`matMul: inner dimensions ${K} and ${transposeB ? cb : rb} of shapes [${a.shape}] and [${b.shape}] (transposeA=${transposeA}, transposeB=${transposeB}) must match`);
  const batchDims = batchA >= batchB ? dimsA : dimsB;
  const batch = Math.max(batchA, batchB);
  const out = be.makeOutput([...batchDims, M, N], 'float32');
  if (M * N === 0) return out;
  if (K === 0) {
    heapF32(be, out).fill(0);
    return out;
  }
  blas.sgemm(be.wasm.HEAPU8, transposeA, transposeB, M, N, K, heapOffset(be, a), heapOffset(be, b), heapOffset(be, out), batch,
    batchA === 1 ? 0 : M * K, batchB === 1 ? 0 : K * N, M * N);
  return out;
}

/** a (..., M, K) · b (..., K, N), batch dims equal or one side unbatched: one dense product per entry. */
function batchedByEntry(backend: WasmBackendLike, a: tf.TensorInfo, b: tf.TensorInfo, batchA: number, batchB: number): tf.TensorInfo {
  const [M, K] = a.shape.slice(-2);
  const N = b.shape[b.shape.length - 1];
  const batchDims = (batchA >= batchB ? a : b).shape.slice(0, -2);
  const batch = Math.max(batchA, batchB);
  const out = backend.makeOutput([...batchDims, M, N], 'float32');
  const mm = new HeapMatMul(backend);
  for (let i = 0; i < batch; i++) {
    mm.run(a, batchA === 1 ? 0 : i * M * K, b, batchB === 1 ? 0 : i * K * N, out, i * M * N, M, K, N);
  }
  return out;
}
