import * as tf from '@tensorflow/tfjs-core';

/**
 * Direct access to the wasm backend's heap, for the library's own wasm kernels: JS loops over a
 * tensor's float32 data in place, and XNNPACK's plain 2-D matmul run on sub-blocks of tensors
 * ("views": extra tensor ids that point inside an existing allocation, never freed on their own).
 */
export interface WasmBackendLike extends tf.KernelBackend {
  wasm: {
    HEAPU8: Uint8Array;
    cwrap(name: string, ret: null, args: string[]): (...args: unknown[]) => void;
    tfjs: { registerTensor(id: number, size: number, memoryOffset: number): void; disposeData(id: number): void };
  };
  dataIdMap: { get(dataId: tf.DataId): { id: number; memoryOffset: number } };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

/** Byte offset of a tensor's data in the wasm heap. */
export function heapOffset(backend: WasmBackendLike, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

/** The heap byte offsets of several tensors, in order: the pointer arguments of one addon call. */
export function heapOffsets<T extends tf.TensorInfo[]>(backend: WasmBackendLike, ...ts: T): { [K in keyof T]: number } {
  return ts.map((t) => heapOffset(backend, t)) as { [K in keyof T]: number };
}

/** The tensor's float32 data as a live view of the heap (re-read it after any allocation: the heap may grow). */
export function heapF32(backend: WasmBackendLike, t: tf.TensorInfo): Float32Array {
  return new Float32Array(backend.wasm.HEAPU8.buffer, heapOffset(backend, t), tf.util.sizeFromShape(t.shape));
}

/** The tensor's int32 data as a live view of the heap. */
export function heapI32(backend: WasmBackendLike, t: tf.TensorInfo): Int32Array {
  return new Int32Array(backend.wasm.HEAPU8.buffer, heapOffset(backend, t), tf.util.sizeFromShape(t.shape));
}

/** A new float32 output tensor on the heap. */
export function floatOutput(backend: WasmBackendLike, shape: number[]): tf.TensorInfo {
  return backend.makeOutput(shape, 'float32');
}

/** A new float32 output tensor on the heap and its data as a view. */
export function heapOutput(backend: WasmBackendLike, shape: number[]): { info: tf.TensorInfo; data: Float32Array } {
  const info = floatOutput(backend, shape);
  return { info, data: heapF32(backend, info) };
}

type RawBatchMatMul = (aId: number, aShape: Uint8Array, aRank: number, bId: number, bShape: Uint8Array, bRank: number, transposeA: number, transposeB: number, outId: number) => void;
const rawMatMuls = new WeakMap<object, RawBatchMatMul>();

/**
 * A plain product of float32 blocks inside tensors: out[outAt …] (M, N) = a[aAt …] (M, K) · b[bAt …] (K, N),
 * all row-major and contiguous, offsets in elements. Runs XNNPACK's dense path (the wasm BatchMatMul
 * with batch 1 and no transposes), which is ≈ 8× faster than its batched path on attention shapes.
 */
export class HeapMatMul {
  private readonly raw: RawBatchMatMul;
  constructor(private readonly backend: WasmBackendLike) {
    let raw = rawMatMuls.get(backend.wasm);
    if (!raw) {
      raw = backend.wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']) as RawBatchMatMul;
      rawMatMuls.set(backend.wasm, raw);
    }
    this.raw = raw;
  }

  private view(t: tf.TensorInfo, at: number, size: number): number {
    const id = this.backend.dataIdNextNumber++;
    this.backend.wasm.tfjs.registerTensor(id, size, heapOffset(this.backend, t) + 4 * at);
    return id;
  }

  run(a: tf.TensorInfo, aAt: number, b: tf.TensorInfo, bAt: number, out: tf.TensorInfo, outAt: number, M: number, K: number, N: number): void {
    const ids = [this.view(a, aAt, M * K), this.view(b, bAt, K * N), this.view(out, outAt, M * N)];
    const shape = (r: number, c: number) => new Uint8Array(new Int32Array([1, r, c]).buffer);
    try {
      this.raw(ids[0], shape(M, K), 3, ids[1], shape(K, N), 3, 0, 0, ids[2]);
    } finally {
      for (const id of ids) this.backend.wasm.tfjs.disposeData(id);
    }
  }
}

/** dst[n] (C, R) = src[n] (R, C)ᵀ for each of `count` consecutive matrices; 16 × 16 tiles, sequential writes. */
export function transposeBlocks(src: Float32Array, dst: Float32Array, count: number, R: number, C: number): void {
  const tile = 16;
  for (let n = 0, base = 0; n < count; n++, base += R * C) {
    for (let r0 = 0; r0 < R; r0 += tile) {
      const r1 = Math.min(r0 + tile, R);
      for (let c0 = 0; c0 < C; c0 += tile) {
        const c1 = Math.min(c0 + tile, C);
        for (let c = c0; c < c1; c++) {
          const d = base + c * R;
          for (let r = r0; r < r1; r++) dst[d + r] = src[base + r * C + c];
        }
      }
    }
  }
}

/** A wasm kernel as the library writes it: named inputs, numeric attrs, outputs on the heap. */
export type WasmInputs = Record<string, tf.TensorInfo>;
export type WasmKernel = (inputs: WasmInputs, be: WasmBackendLike, attrs: Record<string, number>) => tf.TensorInfo | tf.TensorInfo[];

/** tfjs's kernel function for a WasmKernel. */
export function wasmKernelFunc(k: WasmKernel): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => k(inputs as WasmInputs, backend as WasmBackendLike, attrs as unknown as Record<string, number>);
}

const replaced = new Set<string>();

/**
 * Replaces the wasm backend's kernel `name`, once per process, by the function `wrap` makes from
 * the original (which it may call for the cases it does not handle); the original's setup still
 * runs. False when wasm has no such kernel (the backend is not loaded).
 */
export function replaceWasmKernel(name: string, wrap: (original: tf.KernelConfig) => tf.KernelFunc): boolean {
  if (replaced.has(name)) return true;
  const original = tf.getKernel(name, 'wasm');
  if (!original) return false;
  const kernelFunc = wrap(original);
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc, setupFunc: original.setupFunc });
  replaced.add(name);
  return true;
}
