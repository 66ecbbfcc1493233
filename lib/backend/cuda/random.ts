import * as tf from '@tensorflow/tfjs-core';
import type { CudaBackend } from './backend';

export type DeviceRandomKind = 'normal' | 'uniform' | 'bits';

/**
 * A tensor filled on the GPU by a counter-based generator (seed, index): `normal` (mean a, std b),
 * `uniform` in [a, b) (float32), or `bits`: random 32-bit words as int32 (e.g. packed 4-bit codes).
 * For benchmarks at full model size: the values never pass through JavaScript.
 */
export function deviceRandom(shape: number[], kind: DeviceRandomKind, seed: number, a = 0, b = 1): tf.Tensor {
  const backend = tf.backend() as CudaBackend;
  if (tf.getBackend() !== 'cuda' || typeof backend.makeDeviceOutput !== 'function') {
    throw new Error(`deviceRandom needs the cuda backend (the current backend is '${tf.getBackend()}'); set QLORA_TS_BACKEND=cuda.`);
  }
  const info = backend.makeDeviceOutput(shape, kind === 'bits' ? 'int32' : 'float32');
  const d = backend.data.get(info.dataId)!;
  backend.addon.randomFill(d.ptr!, d.size, seed, { normal: 0, uniform: 1, bits: 2 }[kind], a, b);
  return tf.engine().makeTensorFromTensorInfo(info);
}
