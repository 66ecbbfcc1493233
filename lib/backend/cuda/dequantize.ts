import * as tf from '@tensorflow/tfjs-core';
import { DEQUANTIZE_4BIT, Dequantize4bitAttrs } from '../../quant/dequantize_op';
import type { Fn } from './kernels';

/**
 * `Dequantize4bit` on the device: the packed int32 words (uploaded once per tensor and kept with
 * it) and the 16-entry code go through one kernel that writes float32 (out, in) or its transpose.
 * The per-block scales (double-dequantized on the host when `nested`) travel as a temporary buffer.
 */
export const dequantizeKernel: [string, Fn] = [DEQUANTIZE_4BIT, ({ inputs, backend, attrs }) => {
  const a = attrs as unknown as Dequantize4bitAttrs;
  const [rows, cols] = a.shape;
  const nBlocks = Math.ceil((rows * cols) / a.blocksize);
  let scale: Float32Array;
  if (a.nested) {
    const words = backend.readSync(inputs.absmax.dataId) as Int32Array;
    const nestedAbsmax = backend.readSync(inputs.nestedAbsmax.dataId) as Float32Array;
    const nestedCode = backend.readSync(inputs.nestedCode.dataId) as Float32Array;
    scale = new Float32Array(nBlocks);
    for (let b = 0; b < nBlocks; b++) {
      const q = (words[b >> 2] >>> (8 * (b & 3))) & 255;
      scale[b] = Math.fround(nestedCode[q] * nestedAbsmax[Math.floor(b / a.nestedBlocksize)]) + a.offset;
    }
  } else {
    scale = backend.readSync(inputs.absmax.dataId) as Float32Array;
  }
  const out = backend.makeDeviceOutput(a.transpose ? [cols, rows] : [rows, cols]);
  const s = backend.uploadTemp(scale);
  backend.addon.dequant4(backend.indexPtr(inputs.packed), backend.devicePtr(inputs.code), s.ptr, backend.devicePtr(out),
    rows, cols, Math.log2(a.blocksize), a.transpose ? 1 : 0);
  backend.addon.free(s.ptr, s.bytes); // stream-ordered: a later kernel reusing it runs after this one
  return out;
}];

/** Registers the device kernel for the `cuda` backend. */
export function registerDequantizeKernel(backendName: string): void {
  if (tf.getKernel(DEQUANTIZE_4BIT, backendName)) tf.unregisterKernel(DEQUANTIZE_4BIT, backendName);
  tf.registerKernel({ kernelName: DEQUANTIZE_4BIT, backendName, kernelFunc: dequantizeKernel[1] as unknown as tf.KernelFunc });
}
