import * as tf from '@tensorflow/tfjs-core';
import { backend_util, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { BINARY, REDUCE, UNARY } from './addon';
import type { CudaBackend } from './backend';
import { indexingKernels } from './indexing';

type Inputs = Record<string, TensorInfo>;
export type Fn = (args: { inputs: Inputs; backend: CudaBackend; attrs: NamedAttrMap }) => TensorInfo | TensorInfo[];

/**
 * Every kernel the CPU backend has is registered for `cuda` as a forwarding kernel: inputs are
 * copied to the CPU backend, its implementation runs, outputs come back (a one-time warning per
 * kernel says so). Native kernels then replace the ones that matter; no call ever meets
 * "kernel not registered".
 */
export function registerCudaKernels(backendName: string): void {
  const cpu = tf.findBackend('cpu') as unknown as tf.KernelBackend & {
    makeTensorInfo(shape: number[], dtype: tf.DataType, values?: backend_util.BackendValues): TensorInfo;
    readSync(dataId: object): backend_util.BackendValues;
    disposeData(dataId: object): boolean;
  };
  for (const k of tf.getKernelsForBackend('cpu')) {
    tf.registerKernel({ kernelName: k.kernelName, backendName, kernelFunc: forwardToCpu(k, cpu) as unknown as KernelFunc });
  }
  for (const [name, fn] of Object.entries({ ...native, ...indexingKernels(fallback) })) {
    tf.unregisterKernel(name, backendName);
    tf.registerKernel({ kernelName: name, backendName, kernelFunc: fn as unknown as KernelFunc });
  }
}

function forwardToCpu(k: KernelConfig, cpu: ReturnType<typeof tf.findBackend> & Record<string, any>): Fn {
  return ({ inputs, backend, attrs }) => {
    backend.warnFallback(k.kernelName);
    // Inputs are named (most kernels) or a list (Concat, AddN, Pack).
    const toCpu = (t: TensorInfo) => cpu.makeTensorInfo(t.shape, t.dtype, backend.readSync(t.dataId));
    const cpuInputs = Array.isArray(inputs)
      ? (inputs as TensorInfo[]).map(toCpu)
      : Object.fromEntries(Object.entries(inputs).filter(([, t]) => t != null).map(([key, t]) => [key, toCpu(t)]));
    const out = k.kernelFunc({ inputs: cpuInputs as never, backend: cpu as never, attrs });
    const outs = Array.isArray(out) ? out : [out];
    const results = outs.map((o) => {
      const values = cpu.readSync(o.dataId) as backend_util.BackendValues;
      return backend.makeTensorInfo(o.shape, o.dtype, values);
    });
    // Each disposeData drops one reference, so an output that aliases an input (Reshape) is freed too.
    for (const t of [...outs, ...Object.values(cpuInputs as Record<string, TensorInfo>)]) cpu.disposeData(t.dataId);
    return Array.isArray(out) ? results : results[0];
  };
}

const allFloat = (...ts: TensorInfo[]) => ts.every((t) => t.dtype === 'float32');

function stridesFor(shape: number[], outShape: number[]): number[] {
  const strides = new Array(outShape.length).fill(0);
  let s = 1;
  for (let i = shape.length - 1, o = outShape.length - 1; i >= 0; i--, o--) {
    strides[o] = shape[i] === 1 ? 0 : s;
    s *= shape[i];
  }
  return strides;
}

/**
 * Merges neighbouring output dimensions that both inputs walk the same way (both contiguous across
 * them, or both broadcast), so a same-shape op becomes rank 1 and a bias add rank 2: the kernel's
 * index arithmetic (one division per dimension per element) then costs almost nothing.
 */
export function collapseDims(shape: number[], sa: number[], sb: number[]): { shape: number[]; sa: number[]; sb: number[] } {
  const out = { shape: [shape[0]], sa: [sa[0]], sb: [sb[0]] };
  for (let d = 1; d < shape.length; d++) {
    const k = out.shape.length - 1;
    const mergeable = (s: number[], outer: number) => (outer === 0 && s[d] === 0) || (outer === s[d] * shape[d] && s[d] !== 0);
    if (shape[d] === 1) continue; // a size-1 dimension moves nothing
    if (out.shape[k] === 1) { out.shape[k] = shape[d]; out.sa[k] = sa[d]; out.sb[k] = sb[d]; continue; }
    if (mergeable(sa, out.sa[k]) && mergeable(sb, out.sb[k])) {
      out.shape[k] *= shape[d];
      out.sa[k] = sa[d];
      out.sb[k] = sb[d];
    } else {
      out.shape.push(shape[d]); out.sa.push(sa[d]); out.sb.push(sb[d]);
    }
  }
  return out;
}

function binary(op: number, name: string): Fn {
  return ({ inputs, backend, attrs }) => {
    const { a, b } = inputs;
    if (!allFloat(a, b)) return fallback(name)({ inputs, backend, attrs });
    const outShape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const out = backend.makeDeviceOutput(outShape);
    const shape = outShape.length ? outShape : [1];
    const g = collapseDims(shape, stridesFor(a.shape.length ? a.shape : [1], shape), stridesFor(b.shape.length ? b.shape : [1], shape));
    backend.addon.binary(op, backend.devicePtr(a), backend.devicePtr(b), backend.devicePtr(out), g.shape, g.sa, g.sb);
    return out;
  };
}

function unary(op: number, name: string): Fn {
  return ({ inputs, backend, attrs }) => {
    const { x } = inputs;
    if (!allFloat(x)) return fallback(name)({ inputs, backend, attrs });
    const out = backend.makeDeviceOutput(x.shape);
    backend.addon.unary(op, backend.devicePtr(x), backend.devicePtr(out), tf.util.sizeFromShape(x.shape));
    return out;
  };
}

/** Moves the reduced axes innermost (transposing on the device if needed), then reduces rows. */
function reduce(op: number, name: string): Fn {
  return ({ inputs, backend, attrs }) => {
    const { x } = inputs;
    if (!allFloat(x)) return fallback(name)({ inputs, backend, attrs });
    // Max names its axes `reductionIndices`; Sum, Min and Mean name them `axis`.
    const axes = tf.util.parseAxisParam((attrs.axis ?? attrs.reductionIndices) as number | number[], x.shape);
    const perm = backend_util.getAxesPermutation(axes, x.shape.length);
    let src = x;
    let reduceAxes = axes;
    if (perm !== null) {
      src = transposeOnDevice(backend, x, perm);
      reduceAxes = backend_util.getInnerMostAxes(axes.length, x.shape.length);
    }
    const [outShape, reduceShape] = backend_util.computeOutAndReduceShapes(src.shape, reduceAxes);
    const inner = tf.util.sizeFromShape(reduceShape);
    const out = backend.makeDeviceOutput(outShape);
    backend.addon.reduceRows(op, backend.devicePtr(src), backend.devicePtr(out), tf.util.sizeFromShape(outShape), inner);
    if (src !== x) backend.disposeData(src.dataId);
    if (attrs.keepDims) {
      return { dataId: out.dataId, shape: backend_util.expandShapeToKeepDim(outShape, axes), dtype: 'float32' };
    }
    return out;
  };
}

function transposeOnDevice(backend: CudaBackend, x: TensorInfo, perm: number[]): TensorInfo {
  const out = backend.makeDeviceOutput(perm.map((p) => x.shape[p]));
  backend.addon.transpose(backend.devicePtr(x), backend.devicePtr(out), x.shape, perm);
  return out;
}

function fallback(name: string): Fn {
  const k = tf.getKernel(name, 'cpu');
  if (!k) throw new Error(`cuda backend: no CPU kernel '${name}' to fall back on`);
  return forwardToCpu(k, tf.findBackend('cpu') as never);
}

const native: Record<string, Fn> = {
  Add: binary(BINARY.Add, 'Add'),
  Sub: binary(BINARY.Sub, 'Sub'),
  Multiply: binary(BINARY.Multiply, 'Multiply'),
  RealDiv: binary(BINARY.RealDiv, 'RealDiv'),
  Maximum: binary(BINARY.Maximum, 'Maximum'),
  Minimum: binary(BINARY.Minimum, 'Minimum'),
  Pow: binary(BINARY.Pow, 'Pow'),
  SquaredDifference: binary(BINARY.SquaredDifference, 'SquaredDifference'),
  // Same-shaped float32 tensors summed on the device (clipGradNorm's sum of squares, gradient sums):
  // the first two into a new output, each further one added into it in place.
  AddN: ({ inputs, backend, attrs }) => {
    const parts = (Array.isArray(inputs) ? inputs : Object.values(inputs)) as TensorInfo[];
    if (!allFloat(...parts)) return fallback('AddN')({ inputs, backend, attrs });
    if (parts.length === 1) return backend.alias(parts[0]);
    const out = backend.makeDeviceOutput(parts[0].shape);
    const flat = [tf.util.sizeFromShape(parts[0].shape)], unit = [1]; // one contiguous run
    if (flat[0] === 0) return out;
    for (let i = 1; i < parts.length; i++) {
      backend.addon.binary(BINARY.Add, backend.devicePtr(i === 1 ? parts[0] : out), backend.devicePtr(parts[i]), backend.devicePtr(out), flat, unit, unit);
    }
    return out;
  },
  ...Object.fromEntries(Object.entries(UNARY).map(([name, op]) => [name, unary(op, name)])),
  Sum: reduce(REDUCE.Sum, 'Sum'),
  Max: reduce(REDUCE.Max, 'Max'),
  Min: reduce(REDUCE.Min, 'Min'),
  Mean: reduce(REDUCE.Mean, 'Mean'),

  Reshape: ({ inputs, backend, attrs }) => {
    const { x } = inputs;
    return backend.alias(x, tf.util.inferFromImplicitShape(attrs.shape as number[], tf.util.sizeFromShape(x.shape)));
  },
  Identity: ({ inputs, backend }) => backend.alias(inputs.x),
  Transpose: ({ inputs, backend, attrs }) => {
    const { x } = inputs;
    if (!allFloat(x)) return fallback('Transpose')({ inputs, backend, attrs });
    return transposeOnDevice(backend, x, attrs.perm as number[]);
  },
  Softmax: ({ inputs, backend, attrs }) => {
    const { logits } = inputs;
    if (!allFloat(logits)) return fallback('Softmax')({ inputs, backend, attrs });
    const cols = logits.shape[logits.shape.length - 1];
    const out = backend.makeDeviceOutput(logits.shape);
    backend.addon.softmaxRows(backend.devicePtr(logits), backend.devicePtr(out), tf.util.sizeFromShape(logits.shape) / cols, cols, 0);
    return out;
  },
  Fill: ({ backend, attrs }) => {
    if (attrs.dtype !== 'float32') return fallback('Fill')({ inputs: {}, backend, attrs });
    const out = backend.makeDeviceOutput(attrs.shape as number[]);
    backend.addon.fill(backend.devicePtr(out), tf.util.sizeFromShape(attrs.shape as number[]), attrs.value as number);
    return out;
  },
  BatchMatMul: ({ inputs, backend, attrs }) => {
    const { a, b } = inputs;
    const ta = Boolean(attrs.transposeA), tb = Boolean(attrs.transposeB);
    const ra = a.shape.length, rb = b.shape.length;
    const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2)), batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
    if (!allFloat(a, b) || (batchA !== batchB && batchA !== 1 && batchB !== 1)) return fallback('BatchMatMul')({ inputs, backend, attrs });
    const m = ta ? a.shape[ra - 1] : a.shape[ra - 2];
    const k = ta ? a.shape[ra - 2] : a.shape[ra - 1];
    const n = tb ? b.shape[rb - 2] : b.shape[rb - 1];
    const batch = Math.max(batchA, batchB);
    const outBatchShape = batchA >= batchB ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
    const out = backend.makeDeviceOutput([...outBatchShape, m, n]);
    if (batch * m * n === 0) return out;
    const b16 = backend.bf16Ptr(b); // a frozen weight stored in bf16 (lm_head): bf16 GEMM, A rounded to bf16
    backend.addon.matmul(backend.devicePtr(a), b16 ?? backend.devicePtr(b), backend.devicePtr(out), batch, m, n, k, ta ? 1 : 0, tb ? 1 : 0,
      batchA === 1 ? 0 : m * k, batchB === 1 ? 0 : k * n, m * n, b16 === undefined ? backend.matmulMode() : 3);
    return out;
  },
};
