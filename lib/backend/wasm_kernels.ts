import * as tf from '@tensorflow/tfjs-core';
import { FUSED_CROSS_ENTROPY, FUSED_CROSS_ENTROPY_GRAD } from '../nn/cross_entropy';
import { FUSED_RMS_NORM, FUSED_RMS_NORM_GRAD } from '../nn/rms_norm';
import { FUSED_ROPE, FUSED_ROPE_GRAD } from '../nn/rope';
import { floatOutput as out, heapF32, heapI32, replaceWasmKernel, wasmKernelFunc, type WasmBackendLike, type WasmKernel as Kernel } from './wasm_heap';

/**
 * The library's own kernels for the wasm backend, as plain JS loops over the tensors' data in the
 * wasm heap. Only where they measured faster than tfjs's kernels on the training step's shapes:
 * RMSNorm and RoPE forward + backward in one pass each (≈ 3× faster than the composites),
 * cross-entropy around XNNPACK's vectorised softmax (no Exp kernel, no one-hot), and two tfjs
 * kernels that are slow or missing on wasm. JS loops with exponentials were measured slower than
 * the composite forms (JS Math.exp costs ≈ 10 ns an element, tfjs's Sigmoid and Softmax run
 * vectorised), so SwiGLU and attention are fused only natively (wasm_fused.ts, which also replaces
 * the RMSNorm, RoPE and cross-entropy loops below where the CPU addon loads). Each kernel
 * follows the contract stated beside its name in lib/nn (the cuda backend implements the same).
 *
 * Memory: every output is made before the heap is read, because an allocation may grow (and so
 * replace) the heap's ArrayBuffer.
 */


const size = (t: tf.TensorInfo) => tf.util.sizeFromShape(t.shape);

/** x (…, D), weight (D) → y = x · rstd · weight, rstd (rows) = 1 / √(mean(x²) + eps). */
const rmsNorm: Kernel = ({ x, weight }, be, { eps }) => {
  const D = weight.shape[0];
  const N = size(x) / D;
  const yInfo = out(be, x.shape);
  const rInfo = out(be, [N]);
  const [X, W, Y, R] = [x, weight, yInfo, rInfo].map((t) => heapF32(be, t));
  for (let n = 0, o = 0; n < N; n++, o += D) {
    let ss = 0;
    for (let i = 0; i < D; i++) ss = Math.fround(ss + Math.fround(X[o + i] * X[o + i]));
    // rounded to float32 where the composite form rounds (x · rstd, then · weight), so both agree to an ulp
    const r = Math.fround(1 / Math.sqrt(Math.fround(Math.fround(ss / D) + eps)));
    R[n] = r;
    for (let i = 0; i < D; i++) Y[o + i] = Math.fround(X[o + i] * r) * W[i];
  }
  return [yInfo, rInfo];
};

/** dx = r·dy·w − x·r³/D · Σ dy·w·x per row (the weight is frozen: no weight gradient). */
const rmsNormGrad: Kernel = ({ dy, x, weight, rstd }, be) => {
  const D = weight.shape[0];
  const N = size(x) / D;
  const dxInfo = out(be, x.shape);
  const [DY, X, W, R, DX] = [dy, x, weight, rstd, dxInfo].map((t) => heapF32(be, t));
  for (let n = 0, o = 0; n < N; n++, o += D) {
    const r = R[n];
    let dot = 0;
    for (let i = 0; i < D; i++) dot += DY[o + i] * W[i] * X[o + i];
    const c = (dot * r * r * r) / D;
    for (let i = 0; i < D; i++) DX[o + i] = r * DY[o + i] * W[i] - X[o + i] * c;
  }
  return dxInfo;
};

/** The wasm Softmax kernel (XNNPACK) over the last axis of a (N, V) tensor; the caller disposes the result. */
function softmaxRows(be: WasmBackendLike, logits: tf.TensorInfo): tf.TensorInfo {
  const k = tf.getKernel('Softmax', 'wasm')!;
  return k.kernelFunc({ inputs: { logits }, backend: be, attrs: { dim: logits.shape.length - 1 } }) as tf.TensorInfo;
}

/**
 * logits (N, V), ids int32 (N), keep (N) → row loss (N) = keep · (logsumexp − logit[id]), logsumexp (N).
 * With p = softmax(x) from XNNPACK and m the row's argmax: logsumexp = x[m] − log p[m] (p[m] ≥ 1/V, so
 * the logarithm is always of a normal number) and the loss is logsumexp − x[id].
 */
const crossEntropy: Kernel = ({ logits, ids, keep }, be) => {
  const [N, V] = logits.shape;
  const lossInfo = out(be, [N]);
  const lseInfo = out(be, [N]);
  const pInfo = softmaxRows(be, logits);
  const [X, P, K, L, LSE] = [logits, pInfo, keep, lossInfo, lseInfo].map((t) => heapF32(be, t));
  const I = heapI32(be, ids);
  for (let n = 0, o = 0; n < N; n++, o += V) {
    let m = o;
    for (let v = o + 1; v < o + V; v++) if (X[v] > X[m]) m = v;
    const lse = X[m] - Math.log(P[m]);
    LSE[n] = lse;
    L[n] = K[n] * (lse - X[o + I[n]]);
  }
  be.disposeData(pInfo.dataId);
  return [lossInfo, lseInfo];
};

/** dlogits = (softmax − onehot(id)) · keep · dy · invDenom, the softmax from XNNPACK again (cheaper than exp from the saved logsumexp). */
const crossEntropyGrad: Kernel = ({ logits, ids, keep, dy }, be, { invDenom }) => {
  const [N, V] = logits.shape;
  const dInfo = softmaxRows(be, logits);
  const [D, K, DY] = [dInfo, keep, dy].map((t) => heapF32(be, t));
  const I = heapI32(be, ids);
  for (let n = 0, o = 0; n < N; n++, o += V) {
    const scale = K[n] * DY[0] * invDenom;
    for (let v = o; v < o + V; v++) D[v] *= scale;
    D[o + I[n]] -= scale;
  }
  return dInfo;
};

/**
 * The rotation of RoPE and its transpose, one pass each: with h = D/2, forward
 * y[i] = x[i]·cos[i] − x[i+h]·sin[i] and y[i+h] = x[i+h]·cos[i+h] + x[i]·sin[i+h] (i < h);
 * backward dx[i] = dy[i]·cos[i] + dy[i+h]·sin[i+h] and dx[i+h] = dy[i+h]·cos[i+h] − dy[i]·sin[i].
 * x (B, H, T, D), cos and sin (B, 1, T, D): one table row serves every head.
 */
function rotary(x: tf.TensorInfo, cos: tf.TensorInfo, sin: tf.TensorInfo, be: WasmBackendLike, sign: 1 | -1): tf.TensorInfo {
  const [B, H, T, D] = x.shape;
  const h = D / 2;
  const yInfo = out(be, x.shape);
  const [X, C, S, Y] = [x, cos, sin, yInfo].map((t) => heapF32(be, t));
  for (let b = 0; b < B; b++) {
    for (let head = 0; head < H; head++) {
      for (let t = 0; t < T; t++) {
        const o = ((b * H + head) * T + t) * D;
        const c = (b * T + t) * D;
        for (let i = 0; i < h; i++) {
          const x1 = X[o + i];
          const x2 = X[o + i + h];
          if (sign === 1) {
            Y[o + i] = x1 * C[c + i] - x2 * S[c + i];
            Y[o + i + h] = x2 * C[c + i + h] + x1 * S[c + i + h];
          } else {
            Y[o + i] = x1 * C[c + i] + x2 * S[c + i + h];
            Y[o + i + h] = x2 * C[c + i + h] - x1 * S[c + i];
          }
        }
      }
    }
  }
  return yInfo;
}

const rope: Kernel = ({ x, cos, sin }, be) => rotary(x, cos, sin, be, 1);
const ropeGrad: Kernel = ({ dy, cos, sin }, be) => rotary(dy, cos, sin, be, -1);

/**
 * Registers the kernels for 'wasm' (idempotent): RMSNorm, cross-entropy, RoPE, and three tfjs
 * kernels where the wasm one is slow or missing: GatherV2 along axis 0 (row copies; the wasm kernel copies element by element),
 * UnsortedSegmentSum (absent from tfjs-backend-wasm; the embedding gradient needs it) and
 * Identity (shares data instead of copying it).
 */
export function registerWasmKernels(): void {
  const kernels: Array<[string, Kernel]> = [
    [FUSED_RMS_NORM, rmsNorm], [FUSED_RMS_NORM_GRAD, rmsNormGrad],
    [FUSED_CROSS_ENTROPY, crossEntropy], [FUSED_CROSS_ENTROPY_GRAD, crossEntropyGrad],
    [FUSED_ROPE, rope], [FUSED_ROPE_GRAD, ropeGrad],
    ['UnsortedSegmentSum', unsortedSegmentSum],
  ];
  for (const [name, k] of kernels) {
    if (tf.getKernel(name, 'wasm')) continue;
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: wasmKernelFunc(k) });
  }
  patchGather();
  patchIdentity();
}

/**
 * Identity (tf.clone, and the engine's copy of every tensor it keeps for a backward pass) shares
 * the input's data by reference count, as the cpu backend does and as wasm's Reshape already
 * does; tfjs-wasm's own kernel copies the data. Tensors are immutable and every kernel writes
 * only its fresh outputs, so sharing is safe; the copies were ≈ 65 MiB (every saved activation)
 * and a third of the non-matmul time of a training step of the bench's tiny Llama.
 */
function patchIdentity(): void {
  replaceWasmKernel('Identity', (original) => (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string') return original.kernelFunc(args);
    (args.backend as WasmBackendLike & { incRef(dataId: tf.DataId): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });
}

/** x (N, …), segmentIds int32 (N) → (numSegments, …): rows of x summed into their segment; ids outside [0, numSegments) are dropped, as tfjs does. */
const unsortedSegmentSum: Kernel = ({ x, segmentIds }, be, { numSegments }) => {
  if (x.dtype !== 'float32') throw new Error(`UnsortedSegmentSum on wasm: \`x\` must be float32, got ${x.dtype}`);
  const N = segmentIds.shape[0];
  const row = size(x) / N;
  const oInfo = out(be, [numSegments, ...x.shape.slice(1)]);
  const [X, O] = [x, oInfo].map((t) => heapF32(be, t));
  const ids = heapI32(be, segmentIds);
  O.fill(0);
  for (let n = 0; n < N; n++) {
    const s = ids[n];
    if (s < 0 || s >= numSegments) continue;
    for (let i = 0, o = s * row, xi = n * row; i < row; i++) O[o + i] += X[xi + i];
  }
  return oInfo;
};

/** GatherV2 of float32 rows along axis 0 (batchDims 0, int32 indices) as row copies; anything else goes to the original kernel. */
function patchGather(): void {
  replaceWasmKernel('GatherV2', (original) => (args) => {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
    if (axis !== 0 || (batchDims ?? 0) !== 0 || x.dtype !== 'float32' || indices.dtype !== 'int32') return original.kernelFunc(args);
    const be = args.backend as WasmBackendLike;
    const rows = x.shape[0];
    const row = size(x) / Math.max(rows, 1);
    const ids = heapI32(be, indices);
    for (const i of ids) if (i < 0 || i >= rows) return original.kernelFunc(args); // its error message
    const oInfo = out(be, [...indices.shape, ...x.shape.slice(1)]);
    const [X, O] = [x, oInfo].map((t) => heapF32(be, t));
    const I = heapI32(be, indices);
    for (let n = 0; n < I.length; n++) O.set(X.subarray(I[n] * row, (I[n] + 1) * row), n * row);
    return oInfo;
  });
}
