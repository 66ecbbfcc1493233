import * as tf from '@tensorflow/tfjs-core';
import { backend_util, slice_util, TensorInfo } from '@tensorflow/tfjs-core';
import type { Fn } from './kernels';

/**
 * Native kernels that move float32 data by index on the device: gather and its gradient
 * (UnsortedSegmentSum, by atomicAdd), slice / split / concat / stack, one-hot, select, pad, tile,
 * and Cast (int32 and bool stay on the host; float32 ↔ int32 converts there). Token ids and
 * masks are uploaded once per tensor (`indexPtr`). Anything outside the float32 fast path goes
 * to `fallback`, the CPU-forwarding kernel.
 */
export function indexingKernels(fallback: (name: string) => Fn): Record<string, Fn> {
  const size = tf.util.sizeFromShape;
  const isFloat = (t: TensorInfo) => t.dtype === 'float32';
  const isIndex = (t: TensorInfo) => t.dtype === 'int32';

  /**
   * Copies the (outer, widths[i]) row blocks of each part side by side into out: concat / stack.
   * Up to 8 non-empty parts in one kernel (a KV cache grows by a concat per layer and token), more
   * by one strided copy each.
   */
  const joinRows: (backend: Parameters<Fn>[0]['backend'], parts: TensorInfo[], outShape: number[], outer: number) => TensorInfo =
    (backend, parts, outShape, outer) => {
      const out = backend.makeDeviceOutput(outShape);
      if (outer === 0) return out;
      const total = size(outShape) / outer;
      const filled = parts.filter((p) => size(p.shape) > 0);
      if (filled.length > 0 && filled.length <= 8) {
        backend.addon.joinRows(backend.devicePtr(out), filled.map((p) => backend.devicePtr(p)), filled.map((p) => size(p.shape) / outer), outer);
        return out;
      }
      let col = 0;
      for (const p of filled) {
        const w = size(p.shape) / outer;
        backend.addon.copy2d(backend.devicePtr(out) + col * 4, total * 4, backend.devicePtr(p), w * 4, w * 4, outer);
        col += w;
      }
      return out;
    };

  return {
    GatherV2: ({ inputs, backend, attrs }) => {
      const { x, indices } = inputs;
      if (!isFloat(x) || !isIndex(indices) || (attrs.batchDims as number ?? 0) !== 0) return fallback('GatherV2')({ inputs, backend, attrs });
      const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
      const outShape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
      const out = backend.makeDeviceOutput(outShape); // (outer, nIdx, inner)
      const outer = size(x.shape.slice(0, axis)), inner = size(x.shape.slice(axis + 1));
      const x16 = backend.bf16Ptr(x); // a frozen embedding stored in bf16 is read as is
      backend.addon.gather(x16 ?? backend.devicePtr(x), backend.indexPtr(indices), backend.devicePtr(out), outer, x.shape[axis], size(indices.shape), inner, x16 === undefined ? 0 : 1);
      return out;
    },
    UnsortedSegmentSum: ({ inputs, backend, attrs }) => {
      const { x, segmentIds } = inputs;
      if (!isFloat(x) || !isIndex(segmentIds)) return fallback('UnsortedSegmentSum')({ inputs, backend, attrs });
      const numSegments = attrs.numSegments as number;
      const rest = x.shape.slice(segmentIds.shape.length);
      const out = backend.makeDeviceOutput([numSegments, ...rest]); // (numSegments, inner)
      backend.addon.segmentSum(backend.devicePtr(x), backend.indexPtr(segmentIds), backend.devicePtr(out), size(segmentIds.shape), size(rest), numSegments);
      return out;
    },
    OneHot: ({ inputs, backend, attrs }) => {
      const { indices } = inputs;
      const dtype = (attrs.dtype ?? 'int32') as string;
      if (!isIndex(indices) || (dtype !== 'float32' && dtype !== 'int32')) return fallback('OneHot')({ inputs, backend, attrs });
      const depth = attrs.depth as number;
      const out = backend.makeDeviceOutput([...indices.shape, depth], dtype);
      const ptr = dtype === 'int32' ? backend.indexPtr(out) : backend.devicePtr(out);
      backend.addon.oneHot(backend.indexPtr(indices), ptr, size(indices.shape), depth, attrs.onValue as number, attrs.offValue as number, dtype === 'int32' ? 1 : 0);
      return out;
    },
    Slice: ({ inputs, backend, attrs }) => {
      const { x } = inputs;
      if (!isFloat(x)) return fallback('Slice')({ inputs, backend, attrs });
      const [begin, sz] = slice_util.parseSliceParams(x as tf.Tensor, attrs.begin as number[], attrs.size as number[]);
      const strides = tf.util.computeStrides(x.shape).concat(1);
      const out = backend.makeDeviceOutput(sz);
      const base = begin.reduce((acc, b, d) => acc + b * strides[d], 0);
      backend.addon.strided(backend.devicePtr(x), backend.devicePtr(out), sz.length ? sz : [1], sz.length ? strides.slice(0, sz.length) : [1], base);
      return out;
    },
    SplitV: ({ inputs, backend, attrs }) => {
      const { x } = inputs;
      if (!isFloat(x)) return fallback('SplitV')({ inputs, backend, attrs });
      const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
      const sizes = backend_util.prepareSplitSize(x as tf.Tensor, attrs.numOrSizeSplits as number[] | number, axis);
      const outer = size(x.shape.slice(0, axis)), inner = size(x.shape.slice(axis + 1));
      let start = 0;
      return sizes.map((s) => {
        const shape = x.shape.slice();
        shape[axis] = s;
        const out = backend.makeDeviceOutput(shape); // (outer, s·inner) rows of x's (outer, axis·inner)
        if (s * inner > 0 && outer > 0) {
          backend.addon.copy2d(backend.devicePtr(out), s * inner * 4, backend.devicePtr(x) + start * inner * 4, x.shape[axis] * inner * 4, s * inner * 4, outer);
        }
        start += s;
        return out;
      });
    },
    Concat: ({ inputs, backend, attrs }) => {
      const parts = (Array.isArray(inputs) ? inputs : Object.values(inputs)) as TensorInfo[];
      if (!parts.every(isFloat)) return fallback('Concat')({ inputs, backend, attrs });
      const axis = tf.util.parseAxisParam(attrs.axis as number, parts[0].shape)[0];
      const outShape = backend_util.computeOutShape(parts.map((p) => p.shape), axis);
      return joinRows(backend, parts.filter((p) => size(p.shape) > 0), outShape, size(outShape.slice(0, axis)));
    },
    Pack: ({ inputs, backend, attrs }) => {
      const parts = (Array.isArray(inputs) ? inputs : Object.values(inputs)) as TensorInfo[];
      if (!parts.every(isFloat)) return fallback('Pack')({ inputs, backend, attrs });
      const axis = tf.util.parseAxisParam(attrs.axis as number, [...parts[0].shape, 1])[0];
      const outShape = [...parts[0].shape.slice(0, axis), parts.length, ...parts[0].shape.slice(axis)];
      return joinRows(backend, parts, outShape, size(parts[0].shape.slice(0, axis)));
    },
    Select: ({ inputs, backend, attrs }) => {
      const { condition, t, e } = inputs;
      if (!isFloat(t) || !isFloat(e) || condition.dtype !== 'bool') return fallback('Select')({ inputs, backend, attrs });
      const out = backend.makeDeviceOutput(t.shape);
      const n = size(t.shape), nc = size(condition.shape);
      backend.addon.select(backend.indexPtr(condition), backend.devicePtr(t), backend.devicePtr(e), backend.devicePtr(out), n, nc === 0 ? 1 : n / nc);
      return out;
    },
    PadV2: ({ inputs, backend, attrs }) => {
      const { x } = inputs;
      if (!isFloat(x)) return fallback('PadV2')({ inputs, backend, attrs });
      const paddings = attrs.paddings as [number, number][];
      const outShape = x.shape.map((d, i) => paddings[i][0] + d + paddings[i][1]);
      const out = backend.makeDeviceOutput(outShape);
      const r = x.shape.length ? 0 : 1;
      backend.addon.padTile(backend.devicePtr(x), backend.devicePtr(out), r ? [1] : x.shape, r ? [1] : outShape, r ? [0] : paddings.map((p) => p[0]), attrs.constantValue as number, 0);
      return out;
    },
    Tile: ({ inputs, backend, attrs }) => {
      const { x } = inputs;
      if (!isFloat(x) || x.shape.length === 0) return fallback('Tile')({ inputs, backend, attrs });
      const outShape = x.shape.map((d, i) => d * (attrs.reps as number[])[i]);
      const out = backend.makeDeviceOutput(outShape);
      backend.addon.padTile(backend.devicePtr(x), backend.devicePtr(out), x.shape, outShape, [], 0, 1);
      return out;
    },
    ZerosLike: ({ inputs, backend, attrs }) => {
      if (!isFloat(inputs.x)) return fallback('ZerosLike')({ inputs, backend, attrs });
      const out = backend.makeDeviceOutput(inputs.x.shape);
      backend.addon.fill(backend.devicePtr(out), size(inputs.x.shape), 0);
      return out;
    },
    OnesLike: ({ inputs, backend, attrs }) => {
      if (!isFloat(inputs.x)) return fallback('OnesLike')({ inputs, backend, attrs });
      const out = backend.makeDeviceOutput(inputs.x.shape);
      backend.addon.fill(backend.devicePtr(out), size(inputs.x.shape), 1);
      return out;
    },
    Cast: ({ inputs, backend, attrs }) => {
      const { x } = inputs;
      const dtype = attrs.dtype as tf.DataType;
      if (dtype === x.dtype) return backend.alias(x);
      if (dtype === 'complex64' || dtype === 'string' || x.dtype === 'complex64' || x.dtype === 'string') return fallback('Cast')({ inputs, backend, attrs });
      if (x.dtype === 'int32' && dtype === 'float32' && backend.deviceOnly(x)) {
        const out = backend.makeDeviceOutput(x.shape);
        backend.addon.intToFloat(backend.indexPtr(x), backend.devicePtr(out), size(x.shape));
        return out;
      }
      const values = backend.readSync(x.dataId) as Float32Array | Int32Array | Uint8Array;
      const out = dtype === 'float32' ? Float32Array.from(values)
        : dtype === 'int32' ? Int32Array.from(values)
          : Uint8Array.from(values, (v) => (v !== 0 ? 1 : 0));
      return backend.makeTensorInfo(x.shape, dtype, out);
    },
  };
}
