import * as tf from '@tensorflow/tfjs-core';
import { ArgumentError, CheckpointError, show } from '../errors';
import { DYNAMIC_MAP, codeFor } from './codebooks';
import { checkBlocksize, dequantizeBlockwise, packNibbles, quantizeBlockwise, unpackNibbles } from './blockwise';

export type QuantType = 'nf4' | 'fp4';

/** Double quantization of the absmax values: 8-bit codes of (absmax − offset) in blocks of 256. */
export interface NestedState {
  /** (nBlocks) uint8 index into `code` per absmax value. */
  qabsmax: Uint8Array;
  /** (ceil(nBlocks / blocksize)) fp32 absmax per nested block. */
  absmax: Float32Array;
  /** (256) bitsandbytes' signed dynamic map. */
  code: Float32Array;
  blocksize: number;
  /** Mean of the absmax values, subtracted before quantizing them. */
  offset: number;
}

/**
 * bitsandbytes' QuantState of one 4-bit tensor: everything but the packed bytes. `absmax` is the
 * fp32 absmax per block when not nested; with double quantization it lives in `nested`.
 */
export interface QuantState {
  quantType: QuantType;
  blocksize: number;
  /** Shape of the original tensor, e.g. (out, in). */
  shape: number[];
  /** torch dtype name of the original tensor ('float32', 'float16', 'bfloat16'). */
  dtype: string;
  /** (16) the codebook. */
  code: Float32Array;
  absmax?: Float32Array;
  nested?: NestedState;
}

export interface Quantized4bit {
  /** (ceil(n / 2)) two codes per byte, first element in the high nibble. */
  packed: Uint8Array;
  state: QuantState;
}

export interface Quantize4bitOptions {
  quantType?: QuantType;
  blocksize?: number;
  /** Double quantization of the absmax values (bitsandbytes' `compress_statistics`). */
  compressStatistics?: boolean;
  /** dtype name recorded in the state; the values are read as float32. */
  dtype?: string;
}

export function checkQuantType(quantType: unknown, argument = 'quant_type'): asserts quantType is QuantType {
  if (quantType !== 'nf4' && quantType !== 'fp4') throw new ArgumentError(`\`${argument}\` must be 'nf4' or 'fp4', got ${show(quantType)}.`);
}

function doubleQuantize(absmax: Float32Array): NestedState {
  let sum = 0;
  for (const v of absmax) sum += v;
  const offset = Math.fround(sum / absmax.length);
  const centred = absmax.map((v) => v - offset);
  const blocksize = 256;
  const q = quantizeBlockwise(centred, DYNAMIC_MAP, blocksize);
  return { qabsmax: q.indices, absmax: q.absmax, code: DYNAMIC_MAP, blocksize, offset };
}

/** The fp32 absmax per block, undoing double quantization: map[q] · nested_absmax + offset. */
export function blockAbsmax(state: QuantState): Float32Array {
  if (state.absmax) return state.absmax;
  const nested = state.nested!;
  const out = dequantizeBlockwise(nested.qabsmax, nested.absmax, nested.code, nested.blocksize);
  for (let i = 0; i < out.length; i++) out[i] += nested.offset;
  return out;
}

/**
 * Quantizes a tensor to 4 bits with bitsandbytes' layout (`bitsandbytes.functional.quantize_4bit`):
 * blocks of the row-major flattened values, fp32 absmax per block, NF4 or FP4 codes.
 */
export function quantize4bit(weight: tf.Tensor | Float32Array, options: Quantize4bitOptions = {}): Quantized4bit {
  const quantType = options.quantType ?? 'nf4';
  const blocksize = options.blocksize ?? 64;
  checkQuantType(quantType, 'quantType');
  checkBlocksize(blocksize);
  const values = weight instanceof tf.Tensor ? (weight.dataSync() as Float32Array) : weight;
  const shape = weight instanceof tf.Tensor ? weight.shape.slice() : [weight.length];
  const code = codeFor(quantType);
  const { indices, absmax } = quantizeBlockwise(values, code, blocksize);
  const state: QuantState = { quantType, blocksize, shape, dtype: options.dtype ?? 'float32', code };
  if (options.compressStatistics) state.nested = doubleQuantize(absmax);
  else state.absmax = absmax;
  return { packed: packNibbles(indices), state };
}

/** Host-side dequantization to float32 values, row-major in `state.shape`. */
export function dequantize4bitValues(packed: Uint8Array, state: QuantState): Float32Array {
  const n = state.shape.reduce((a, b) => a * b, 1);
  return dequantizeBlockwise(unpackNibbles(packed, n), blockAbsmax(state), state.code, state.blocksize);
}

/** The inverse of quantize4bit (`bitsandbytes.functional.dequantize_4bit`): a float32 tensor of `state.shape`. */
export function dequantize4bit(packed: Uint8Array, state: QuantState): tf.Tensor {
  return tf.tensor(dequantize4bitValues(packed, state), state.shape, 'float32');
}

export type RawTensor = { dtype: string; shape: number[]; data: Uint8Array };

const bytesOf = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const f32 = (t: RawTensor): Float32Array => new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));

/** An F32 raw tensor's values (bias, absmax); other dtypes are a CheckpointError naming `where`. */
export function rawToFloat32(t: RawTensor, where: string): Float32Array {
  if (t.dtype !== 'F32') throw new CheckpointError(`${where}: dtype ${t.dtype}, expected F32.`, 'bitsandbytes keeps absmax, quant maps and biases of 4-bit layers in float32.');
  return f32(t);
}

/**
 * The state as bitsandbytes saves it (`QuantState.as_dict(packed=True)` plus the weight), keys
 * relative to the module: `weight` (U8, (n/2, 1)), `weight.absmax`, `weight.quant_map`,
 * `weight.nested_absmax`, `weight.nested_quant_map`, `weight.quant_state.bitsandbytes__nf4`
 * (the JSON of the non-tensor fields as U8 bytes).
 */
export function quantStateToDict({ packed, state }: Quantized4bit): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  out.set('weight', { dtype: 'U8', shape: [packed.length, 1], data: packed });
  const meta: Record<string, unknown> = { quant_type: state.quantType, blocksize: state.blocksize, dtype: state.dtype, shape: state.shape };
  if (state.nested) {
    out.set('weight.absmax', { dtype: 'U8', shape: [state.nested.qabsmax.length], data: state.nested.qabsmax });
  } else {
    out.set('weight.absmax', { dtype: 'F32', shape: [state.absmax!.length], data: bytesOf(state.absmax!) });
  }
  out.set('weight.quant_map', { dtype: 'F32', shape: [state.code.length], data: bytesOf(state.code) });
  if (state.nested) {
    const nested = state.nested;
    out.set('weight.nested_absmax', { dtype: 'F32', shape: [nested.absmax.length], data: bytesOf(nested.absmax) });
    out.set('weight.nested_quant_map', { dtype: 'F32', shape: [nested.code.length], data: bytesOf(nested.code) });
    Object.assign(meta, { nested_blocksize: nested.blocksize, nested_dtype: 'float32', nested_offset: nested.offset });
  }
  const json = pythonJson(meta);
  out.set(`weight.quant_state.bitsandbytes__${state.quantType}`, { dtype: 'U8', shape: [json.length], data: json });
  return out;
}

/** json.dumps' default spacing (", " and ": "), so the bytes equal what bitsandbytes writes. */
function pythonJson(meta: Record<string, unknown>): Uint8Array {
  const value = (v: unknown): string => (Array.isArray(v) ? `[${v.map(value).join(', ')}]` : JSON.stringify(v));
  const body = Object.entries(meta).map(([k, v]) => `${JSON.stringify(k)}: ${k === 'nested_offset' ? pyFloat(v as number) : value(v)}`).join(', ');
  return new TextEncoder().encode(`{${body}}`);
}

/** Python's repr of a float (shortest round-trip digits; exponent form below 1e-4 and from 1e16). */
export function pyFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
  const [mantissa, expText] = v.toExponential().split('e');
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  const fixed = String(v);
  return fixed.includes('.') ? fixed : `${fixed}.0`;
}

/** Reads the state saved by bitsandbytes (or by quantStateToDict); `where` names the file/module for errors. */
export function quantStateFromDict(dict: Map<string, RawTensor>, where: string): Quantized4bit {
  const need = (key: string): RawTensor => {
    const t = dict.get(key);
    if (!t) throw new CheckpointError(`${where}: 4-bit state has no tensor '${key}' (found ${show([...dict.keys()])}).`, 'A bitsandbytes 4-bit checkpoint stores weight, weight.absmax, weight.quant_map and weight.quant_state.bitsandbytes__nf4 (or __fp4) per linear layer.');
    return t;
  };
  const metaKey = [...dict.keys()].find((k) => k.startsWith('weight.quant_state.bitsandbytes__'));
  if (!metaKey) need('weight.quant_state.bitsandbytes__nf4');
  const meta = JSON.parse(new TextDecoder().decode(dict.get(metaKey!)!.data)) as Record<string, unknown>;
  checkQuantType(meta.quant_type, `${where}: quant_type`);
  const packed = need('weight');
  if (packed.dtype !== 'U8') throw new CheckpointError(`${where}: 4-bit 'weight' has dtype ${packed.dtype}, expected U8.`, 'Only bitsandbytes\' default quant_storage uint8 is supported.');
  const state: QuantState = {
    quantType: meta.quant_type,
    blocksize: Number(meta.blocksize),
    shape: (meta.shape as number[]).map(Number),
    dtype: String(meta.dtype ?? 'float32'),
    code: f32(need('weight.quant_map')),
  };
  if ('nested_offset' in meta) {
    state.nested = {
      qabsmax: need('weight.absmax').data.slice(),
      absmax: f32(need('weight.nested_absmax')),
      code: f32(need('weight.nested_quant_map')),
      blocksize: Number(meta.nested_blocksize),
      offset: Number(meta.nested_offset),
    };
  } else {
    state.absmax = f32(need('weight.absmax'));
  }
  return { packed: packed.data.slice(), state };
}
