import * as tf from '@tensorflow/tfjs-core';

/**
 * Whether the active backend registers every one of these kernels: how the library's ops choose a
 * backend's fused kernels (a forward and its gradient together) over their composite form.
 */
export function backendHasKernels(...names: string[]): boolean {
  const backend = tf.getBackend();
  return names.every((name) => tf.getKernel(name, backend) !== undefined);
}

/** Registers `kernelFunc` as `kernelName` for `backendName`, replacing a registration already there. */
export function replaceKernel(kernelName: string, backendName: string, kernelFunc: tf.KernelFunc): void {
  if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel({ kernelName, backendName, kernelFunc });
}
