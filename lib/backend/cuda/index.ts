import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadAddon } from './addon';
import { CudaBackend } from './backend';
import { registerCudaKernels } from './kernels';
import { registerDequantizeKernel } from './dequantize';
import { registerFusedKernels } from './fused';
import { registerAdamW8bitKernel } from './adamw8bit';
import { registerArgMaxKernel } from './argmax';

/**
 * Registers the `cuda` backend with tfjs if the addon loads and a GPU answers; otherwise returns
 * the reason (one sentence the caller puts into a BackendError).
 */
export function registerCudaBackend(priority = 3): { ok: true } | { ok: false; reason: string } {
  if (tf.findBackendFactory('cuda')) return { ok: true };
  const { addon, reason } = loadAddon();
  if (!addon) return { ok: false, reason: reason! };
  tf.registerBackend('cuda', () => new CudaBackend(addon), priority);
  registerCudaKernels('cuda');
  registerDequantizeKernel('cuda');
  registerFusedKernels('cuda');
  registerAdamW8bitKernel('cuda');
  registerArgMaxKernel('cuda');
  return { ok: true };
}

export { CudaBackend } from './backend';
