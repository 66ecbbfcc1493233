import * as tf from '@tensorflow/tfjs-core';
import { DEQUANTIZE_4BIT, MATMUL_4BIT, type Dequantize4bitAttrs, type Matmul4bitDtype } from '../../quant/dequantize_op';
import { ArgumentError, show } from '../../errors';
import type { CudaBackend } from './backend';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { Fn } from './kernels';
import { replaceKernel } from '../kernel_registry';

/**
 * `Dequantize4bit` on the device: the packed int32 words (uploaded once per tensor and kept with
 * it) and the 16-entry code go through one kernel that writes float32 (out, in) or its transpose.
 * Plain absmax is read where it lives on the device; double-quantized absmax is expanded there
 * into a temporary float32 scale per block (nothing is read back to the host).
 */
export const dequantizeKernel: [string, Fn] = [DEQUANTIZE_4BIT, ({ inputs, backend, attrs }) => {
  const a = attrs as unknown as Dequantize4bitAttrs;
  const [rows, cols] = a.shape;
  const out = backend.makeDeviceOutput(a.transpose ? [cols, rows] : [rows, cols]);
  withScales(backend, inputs, a, (scale) => backend.addon.dequant4(backend.indexPtr(inputs.packed), backend.devicePtr(inputs.code), scale,
    backend.devicePtr(out), rows, cols, Math.log2(a.blocksize), a.transpose ? 1 : 0));
  return out;
}];

/**
 * `Matmul4bit`: {x, packed, code, absmax[, nestedAbsmax, nestedCode]} → x·Wᵀ (N, out), or with
 * attr gradInput x·W (N, in), x being (N, out) then. The weight is dequantized to attr computeDtype
 * (bfloat16 when absent, or float16) and x rounded to it, then multiplied on tensor cores (fp32
 * accumulate and output): the 16-bit compute dtypes of bitsandbytes' Linear4bit.
 */
export const matmul4bitKernel: [string, Fn] = [MATMUL_4BIT, ({ inputs, backend, attrs }) => {
  const a = attrs as unknown as Dequantize4bitAttrs & { gradInput: boolean; computeDtype?: Matmul4bitDtype };
  const dtype = a.computeDtype ?? 'bfloat16';
  if (dtype !== 'bfloat16' && dtype !== 'float16') throw new ArgumentError(`Matmul4bit: \`computeDtype\` must be 'bfloat16' or 'float16', got ${show(dtype)}.`, 'float32 compute takes Dequantize4bit and a matMul (Linear4bit does so itself).');
  const [rows, cols] = a.shape;
  const x = inputs.x;
  const N = x.shape[0];
  const out = backend.makeDeviceOutput([N, a.gradInput ? cols : rows]);
  withScales(backend, inputs, a, (scale) => backend.addon.matmul4(backend.devicePtr(x), backend.indexPtr(inputs.packed), backend.devicePtr(inputs.code),
    scale, backend.devicePtr(out), N, rows, cols, Math.log2(a.blocksize), a.gradInput ? 1 : 0, dtype === 'float16' ? 1 : 0));
  if (dtype === 'float16') backend.noticeFloat16Overflow();
  return out;
}];

/** Calls `use` with a device pointer to the float32 absmax per block, expanding double quantization on the device. */
function withScales(backend: CudaBackend, inputs: Record<string, TensorInfo>, a: Dequantize4bitAttrs, use: (scale: number) => void): void {
  if (!a.nested) {
    use(backend.devicePtr(inputs.absmax));
    return;
  }
  const nBlocks = Math.ceil((a.shape[0] * a.shape[1]) / a.blocksize);
  const temp = { ptr: backend.addon.alloc(nBlocks * 4), bytes: nBlocks * 4 };
  backend.addon.nestedScales(backend.indexPtr(inputs.absmax), backend.devicePtr(inputs.nestedCode), backend.devicePtr(inputs.nestedAbsmax),
    temp.ptr, nBlocks, a.nestedBlocksize, a.offset);
  use(temp.ptr);
  backend.addon.free(temp.ptr, temp.bytes); // stream-ordered: a later kernel reusing it runs after this one
}

/** Registers the device kernels for the `cuda` backend. */
export function registerDequantizeKernel(backendName: string): void {
  for (const [kernelName, fn] of [dequantizeKernel, matmul4bitKernel]) replaceKernel(kernelName, backendName, fn as unknown as tf.KernelFunc);
}
