import * as tf from '@tensorflow/tfjs-core';
import { FUSED_ADAMW8BIT } from '../../train/optim/adamw_8bit';
import { replaceKernel } from '../kernel_registry';
import type { CudaBackend } from './backend';
import type { TensorInfo } from '@tensorflow/tfjs-core';

/**
 * AdamW8bit's fused step (native/adamw8bit.cuh): p (any shape) and g, codes state1/state2 as int32
 * words (ceil(n / 4),) holding one byte per element, absmax1/absmax2 (blocks,), map1/map2 (256,)
 * → [p', state1', state2', absmax1', absmax2'], all new device tensors.
 */
function adamw8bitStep({ inputs, backend, attrs }: { inputs: Record<string, TensorInfo>; backend: CudaBackend; attrs: Record<string, number> }): TensorInfo[] {
  const { p, g, state1, state2, absmax1, absmax2, map1, map2 } = inputs;
  const n = tf.util.sizeFromShape(p.shape);
  const blockSize = attrs.blockSize;
  const blocks = Math.ceil(n / blockSize);
  const words = Math.ceil(n / 4);
  const sizes = { g: tf.util.sizeFromShape(g.shape), state1: state1.shape[0], state2: state2.shape[0], absmax1: absmax1.shape[0], absmax2: absmax2.shape[0] };
  const want = { g: n, state1: words, state2: words, absmax1: blocks, absmax2: blocks };
  for (const key of Object.keys(want) as Array<keyof typeof want>) {
    if (sizes[key] !== want[key]) throw new Error(`${FUSED_ADAMW8BIT}: '${key}' has ${sizes[key]} elements, expected ${want[key]} for a parameter of ${n} in blocks of ${blockSize}`);
  }
  const [po, c1o, c2o, a1o, a2o] = [backend.makeDeviceOutput(p.shape), backend.makeDeviceOutput([words], 'int32'), backend.makeDeviceOutput([words], 'int32'),
    backend.makeDeviceOutput([blocks]), backend.makeDeviceOutput([blocks])];
  if (n === 0) return [po, c1o, c2o, a1o, a2o];
  backend.addon.adamw8bitStep(backend.devicePtr(p), backend.devicePtr(g), backend.indexPtr(state1), backend.indexPtr(state2),
    backend.devicePtr(absmax1), backend.devicePtr(absmax2), backend.devicePtr(map1), backend.devicePtr(map2),
    backend.devicePtr(po), backend.indexPtr(c1o), backend.indexPtr(c2o), backend.devicePtr(a1o), backend.devicePtr(a2o), n, blockSize,
    attrs.beta1, attrs.beta2, attrs.eps, attrs.shrink, attrs.stepSize, attrs.bc2Sqrt);
  return [po, c1o, c2o, a1o, a2o];
}

/** Registers the fused 8-bit AdamW step for the `cuda` backend. */
export function registerAdamW8bitKernel(backendName: string): void {
  replaceKernel(FUSED_ADAMW8BIT, backendName, adamw8bitStep as unknown as tf.KernelFunc);
}
