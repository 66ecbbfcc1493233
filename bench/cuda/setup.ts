import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { registerCudaBackend, type CudaBackend } from '../../lib/backend/cuda';

/** Registers and selects the cuda backend in production mode for a kernel-level benchmark; throws why when it cannot. */
export async function useCudaBackend(): Promise<CudaBackend> {
  const reg = registerCudaBackend();
  if (!reg.ok) throw new Error(`cuda backend unavailable: ${reg.reason}`);
  await tf.setBackend('cuda');
  tf.enableProdMode();
  return tf.backend() as unknown as CudaBackend;
}
