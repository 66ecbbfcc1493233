import * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { replaceKernel } from '../kernel_registry';
import type { CudaBackend } from './backend';

type ArgMaxArgs = { inputs: { x: TensorInfo }; backend: CudaBackend; attrs: { axis: number | number[] } };

/**
 * ArgMax over the last axis of a float32 tensor on the device (native kArgmaxRows): an int32
 * index per row, the one tfjs's CPU kernel picks (the first maximum). Greedy decoding then reads
 * one id per sequence instead of its whole row of logits. Other axes and dtypes keep the kernel
 * registered before (the CPU implementation, forwarded).
 */
export function registerArgMaxKernel(backendName: string): void {
  const before = tf.getKernel('ArgMax', backendName)?.kernelFunc;
  const argMax = (args: ArgMaxArgs): TensorInfo => {
    const { inputs: { x }, backend, attrs } = args;
    const axes = tf.util.parseAxisParam(attrs.axis, x.shape);
    const cols = x.shape[x.shape.length - 1] ?? 0;
    const last = axes.length === 1 && axes[0] === x.shape.length - 1;
    if (x.dtype !== 'float32' || !last || cols === 0) {
      if (!before) throw new Error(`cuda backend: ArgMax over axis ${axes} of a ${x.dtype} tensor has no kernel`);
      return before(args as never) as TensorInfo;
    }
    const out = backend.makeDeviceOutput(x.shape.slice(0, -1), 'int32');
    const rows = tf.util.sizeFromShape(x.shape) / cols;
    if (rows > 0) backend.addon.argmaxRows(backend.devicePtr(x), backend.indexPtr(out), rows, cols);
    return out;
  };
  replaceKernel('ArgMax', backendName, argMax as unknown as tf.KernelFunc);
}
