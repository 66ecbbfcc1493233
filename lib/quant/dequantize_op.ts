import * as tf from '@tensorflow/tfjs-core';
import { backendHasKernels } from '../backend/kernel_registry';

/**
 * The `Dequantize4bit` op: packed 4-bit weights (int32 words holding 8 codes each) → float32.
 * As tfjs splits its ops: this public function names the inputs, a kernel per backend does the
 * work (one host kernel registered for 'cpu' and 'wasm'), and `dequantize4bitComposite` builds the
 * same result from public tf ops for any other backend. No gradient: the 4-bit weight is frozen.
 *
 * Word layout: word j holds bytes 4j..4j+3 of bitsandbytes' packed array little-endian, so element
 * e sits in byte e>>1 (high nibble when e is even): word e>>3, bit shift 8·((e>>1)&3) + 4·(1−(e&1)).
 */
export const DEQUANTIZE_4BIT = 'Dequantize4bit';

/**
 * A fused 4-bit matmul a backend may register (the cuda backend does, on 16-bit tensor cores):
 * inputs {x} plus the Dequantize4bit inputs, attrs Dequantize4bitAttrs (transpose ignored) plus
 * gradInput: false → x (N, in) · Wᵀ = (N, out); true → x (N, out) · W = (N, in), and computeDtype
 * (Matmul4bitDtype, 'bfloat16' when absent): the type the weight and x are rounded to before the GEMM.
 */
export const MATMUL_4BIT = 'Matmul4bit';

/** The compute dtypes Matmul4bit multiplies in (fp32 accumulate and output either way). */
export type Matmul4bitDtype = 'bfloat16' | 'float16';

export interface Dequantize4bitAttrs {
  /** (out, in) of the original weight. */
  shape: [number, number];
  blocksize: number;
  /** When true the output is the transpose, (in, out): what y = x · Wᵀ multiplies by directly. */
  transpose: boolean;
  /** Double quantization: `absmax` holds uint8 codes packed 4 per int32 word. */
  nested: boolean;
  nestedBlocksize: number;
  offset: number;
}

export interface Dequantize4bitInputs {
  packed: tf.Tensor; // (ceil(n / 8)) int32
  code: tf.Tensor; // (16) float32
  absmax: tf.Tensor; // (nBlocks) float32, or (ceil(nBlocks / 4)) int32 when nested
  nestedAbsmax?: tf.Tensor; // (ceil(nBlocks / nestedBlocksize)) float32
  nestedCode?: tf.Tensor; // (256) float32
}

/** Reinterprets bytes as little-endian int32 words (zero-padded to a multiple of 4). */
export function bytesToWords(bytes: Uint8Array): Int32Array {
  const padded = new Uint8Array(Math.ceil(bytes.length / 4) * 4);
  padded.set(bytes);
  return new Int32Array(padded.buffer);
}

export function wordsToBytes(words: Int32Array, nBytes: number): Uint8Array {
  return new Uint8Array(words.buffer, words.byteOffset, nBytes).slice();
}

/** The host kernel's arithmetic, shared by the cpu and wasm registrations. */
export function dequantizeWords(
  packed: Int32Array, code: Float32Array, absmax: Float32Array | Int32Array, attrs: Dequantize4bitAttrs,
  nestedAbsmax: Float32Array | undefined, nestedCode: Float32Array | undefined, out: Float32Array,
): void {
  const [rows, cols] = attrs.shape;
  const nBlocks = Math.ceil((rows * cols) / attrs.blocksize);
  let scale: Float32Array;
  if (attrs.nested) {
    scale = new Float32Array(nBlocks);
    for (let b = 0; b < nBlocks; b++) {
      const q = (absmax[b >> 2] >>> (8 * (b & 3))) & 255;
      scale[b] = Math.fround(nestedCode![q] * nestedAbsmax![Math.floor(b / attrs.nestedBlocksize)]) + attrs.offset;
    }
  } else {
    scale = absmax as Float32Array;
  }
  const n = rows * cols;
  const shift = Math.log2(attrs.blocksize); // blocksize is a power of two
  const at = (e: number): number => code[(packed[e >> 3] >>> (8 * ((e >> 1) & 3) + ((e & 1) === 0 ? 4 : 0))) & 15] * scale[e >> shift];
  if (!attrs.transpose) {
    for (let w = 0, e = 0; e < n; w++) {
      const word = packed[w];
      for (let k = 0; k < 32 && e < n; k += 8) {
        const byte = (word >>> k) & 255;
        out[e] = code[byte >> 4] * scale[e >> shift];
        e++;
        if (e < n) out[e] = code[byte & 15] * scale[e >> shift];
        e++;
      }
    }
    return;
  }
  // (in, out): 32×32 tiles, so the strided reads stay in cache and the writes run along rows of out
  const tile = 32;
  for (let r0 = 0; r0 < rows; r0 += tile) {
    const r1 = Math.min(r0 + tile, rows);
    for (let c0 = 0; c0 < cols; c0 += tile) {
      const c1 = Math.min(c0 + tile, cols);
      for (let c = c0; c < c1; c++) for (let r = r0; r < r1; r++) out[c * rows + r] = at(r * cols + c);
    }
  }
}

type HostBackend = tf.KernelBackend & {
  readSync(dataId: object): tf.backend_util.BackendValues;
  makeTensorInfo?(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): tf.TensorInfo;
  makeOutput?(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap?(info: tf.TensorInfo): tf.backend_util.TypedArray;
};

const hostKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as HostBackend;
  const a = attrs as unknown as Dequantize4bitAttrs;
  const read = (t: tf.TensorInfo | undefined) => (t ? b.readSync(t.dataId) : undefined);
  const outShape = a.transpose ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const run = (out: Float32Array) => dequantizeWords(
    read(inputs.packed) as Int32Array, read(inputs.code) as Float32Array, read(inputs.absmax) as Float32Array | Int32Array, a,
    read(inputs.nestedAbsmax) as Float32Array | undefined, read(inputs.nestedCode) as Float32Array | undefined, out,
  );
  if (b.makeOutput && b.typedArrayFromHeap) {
    const info = b.makeOutput(outShape, 'float32');
    run(b.typedArrayFromHeap(info) as Float32Array);
    return info;
  }
  const out = new Float32Array(a.shape[0] * a.shape[1]);
  run(out);
  return b.makeTensorInfo!(outShape, 'float32', out);
};

/** Registers the host kernel for `backendName` unless one is there (the wasm backend's native one, say). */
export function registerHostDequantizeKernel(backendName: string): void {
  if (!tf.getKernel(DEQUANTIZE_4BIT, backendName)) tf.registerKernel({ kernelName: DEQUANTIZE_4BIT, backendName, kernelFunc: hostKernel });
}

for (const backendName of ['cpu', 'wasm']) registerHostDequantizeKernel(backendName);

/** Bits [shift, shift + width) of each int32 as int32, from public ops (floor division, floor mod). */
function bitField(words: tf.Tensor, shift: number, width: number): tf.Tensor {
  return tf.mod(tf.floorDiv(words, tf.scalar(2 ** shift, 'int32')), tf.scalar(2 ** width, 'int32'));
}

/** The same result from public tf ops, for backends without a Dequantize4bit kernel. */
export function dequantize4bitComposite(inputs: Dequantize4bitInputs, attrs: Dequantize4bitAttrs): tf.Tensor {
  return tf.tidy(() => {
    const [rows, cols] = attrs.shape;
    const n = rows * cols;
    const nBlocks = Math.ceil(n / attrs.blocksize);
    const nibbles = [0, 1, 2, 3, 4, 5, 6, 7].map((p) => bitField(inputs.packed, 8 * (p >> 1) + (p % 2 === 0 ? 4 : 0), 4));
    const idx = tf.slice(tf.reshape(tf.stack(nibbles, 1), [-1]), 0, n); // (n) int32, element order
    let scale: tf.Tensor; // (nBlocks)
    if (attrs.nested) {
      const q = tf.slice(tf.reshape(tf.stack([0, 1, 2, 3].map((k) => bitField(inputs.absmax, 8 * k, 8)), 1), [-1]), 0, nBlocks);
      const nestedIdx = tf.floorDiv(tf.range(0, nBlocks, 1, 'int32'), tf.scalar(attrs.nestedBlocksize, 'int32'));
      scale = tf.add(tf.mul(tf.gather(inputs.nestedCode!, q), tf.gather(inputs.nestedAbsmax!, nestedIdx)), attrs.offset);
    } else {
      scale = inputs.absmax;
    }
    const blockIdx = tf.floorDiv(tf.range(0, n, 1, 'int32'), tf.scalar(attrs.blocksize, 'int32'));
    const w = tf.reshape(tf.mul(tf.gather(inputs.code, idx), tf.gather(scale, blockIdx)), [rows, cols]); // (out, in)
    return attrs.transpose ? tf.transpose(w) : w;
  });
}

function namedInputs(inputs: Dequantize4bitInputs): tf.NamedTensorMap {
  const named: tf.NamedTensorMap = { packed: inputs.packed, code: inputs.code, absmax: inputs.absmax };
  if (inputs.nestedAbsmax) named.nestedAbsmax = inputs.nestedAbsmax;
  if (inputs.nestedCode) named.nestedCode = inputs.nestedCode;
  return named;
}

/** Dequantizes on the active backend: its kernel when it has one, else the composite. */
export function dequantize4bitOp(inputs: Dequantize4bitInputs, attrs: Dequantize4bitAttrs): tf.Tensor {
  if (!backendHasKernels(DEQUANTIZE_4BIT)) return dequantize4bitComposite(inputs, attrs);
  return tf.engine().runKernel(DEQUANTIZE_4BIT, namedInputs(inputs), attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/** True when the active backend has the fused 4-bit matmul. */
export function hasMatmul4bit(): boolean {
  return backendHasKernels(MATMUL_4BIT);
}

/**
 * x (N, in) · Wᵀ, or with gradInput x (N, out) · W, through the backend's fused kernel (see hasMatmul4bit),
 * W and x rounded to computeDtype. No gradient.
 */
export function matmul4bitOp(x: tf.Tensor, inputs: Dequantize4bitInputs, attrs: Dequantize4bitAttrs, gradInput: boolean, computeDtype: Matmul4bitDtype = 'bfloat16'): tf.Tensor2D {
  return tf.engine().runKernel(MATMUL_4BIT, { x, ...namedInputs(inputs) }, { ...attrs, gradInput, computeDtype } as unknown as tf.NamedAttrMap) as tf.Tensor2D;
}
