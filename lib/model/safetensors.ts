import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError, show } from '../errors';

/**
 * safetensors files: an 8-byte little-endian header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the data.
 * Reading streams: the header is parsed once and each tensor's byte range is read with
 * fs.readSync at its offset, so a checkpoint never sits whole in memory.
 */
export type SafetensorsDtype = 'BF16' | 'F16' | 'F32' | 'F64' | 'U8' | 'I8' | 'I16' | 'I32' | 'I64' | 'BOOL';

export const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  BF16: 2, F16: 2, F32: 4, F64: 8, U8: 1, I8: 1, I16: 2, I32: 4, I64: 8, BOOL: 1,
};

/** One tensor as stored: little-endian row-major bytes. */
export interface RawTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Uint8Array;
}

export interface TensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range relative to the start of the data section. */
  dataOffsets: [number, number];
}

/** Headers larger than this are refused as malformed (the reference implementation uses 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

/** An open safetensors file: its header, and tensors read on demand. Call close() when done. */
export class SafetensorsFile {
  readonly tensors = new Map<string, TensorInfo>();
  readonly metadata: Record<string, string>;
  private readonly dataStart: number;

  private constructor(readonly file: string, private fd: number | null, header: Record<string, unknown>, headerBytes: number, fileSize: number) {
    this.dataStart = 8 + headerBytes;
    const meta = header.__metadata__;
    if (meta !== undefined && (typeof meta !== 'object' || meta === null || Object.values(meta).some((v) => typeof v !== 'string'))) {
      throw this.error(`\`__metadata__\` must map strings to strings, got ${JSON.stringify(meta).slice(0, 80)}`);
    }
    this.metadata = (meta ?? {}) as Record<string, string>;
    const dataBytes = fileSize - this.dataStart;
    const ranges: Array<[number, number, string]> = [];
    for (const [name, value] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof info !== 'object' || info === null) throw this.error(`tensor '${name}' has a malformed entry ${show(value)}`);
      const dtype = info.dtype as SafetensorsDtype;
      if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
        throw this.error(`tensor '${name}' has dtype ${show(info.dtype)}, which qlora-ts cannot read`,
          `supported dtypes: ${Object.keys(DTYPE_BYTES).join(', ')}; convert the checkpoint with safetensors in Python`);
      }
      const shape = info.shape;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw this.error(`tensor '${name}' has a malformed shape ${show(shape)}`);
      const off = info.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o) && o >= 0) || off[0] > off[1]) {
        throw this.error(`tensor '${name}' has malformed data_offsets ${show(off)}`);
      }
      const expected = shape.reduce((a: number, b: number) => a * b, 1) * DTYPE_BYTES[dtype];
      if (off[1] - off[0] !== expected) {
        throw this.error(`tensor '${name}' has data_offsets ${show(off)} (${off[1] - off[0]} bytes) but ${dtype} ${show(shape)} needs ${expected} bytes`);
      }
      if (off[1] > dataBytes) {
        throw this.error(`tensor '${name}' ends at byte ${off[1]} of the data but the file holds only ${dataBytes} data bytes (truncated file?)`,
          'the file is incomplete: download or save it again');
      }
      ranges.push([off[0], off[1], name]);
      this.tensors.set(name, { dtype, shape: shape as number[], dataOffsets: [off[0], off[1]] });
    }
    ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (let i = 1; i < ranges.length; i++) {
      if (ranges[i][0] < ranges[i - 1][1]) throw this.error(`tensors '${ranges[i - 1][2]}' and '${ranges[i][2]}' have overlapping data_offsets`);
    }
  }

  /** Opens a file and parses its header (only the header is read). */
  static open(file: string): SafetensorsFile {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (e) {
      throw new CheckpointError(`${file}: cannot open (${(e as NodeJS.ErrnoException).code ?? e})`, 'check the path to the checkpoint directory');
    }
    try {
      const size = fs.fstatSync(fd).size;
      const fail = (msg: string, hint?: string) => new CheckpointError(`${path.basename(file)}: ${msg}`, hint);
      if (size < 8) throw fail(`file has ${size} bytes, fewer than the 8-byte header length (truncated file?)`);
      const lenBuf = Buffer.alloc(8);
      fs.readSync(fd, lenBuf, 0, 8, 0);
      const n = lenBuf.readBigUInt64LE(0);
      if (n > BigInt(MAX_HEADER_BYTES)) throw fail(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
      if (n > BigInt(size - 8)) throw fail(`header length ${n} runs past the end of the ${size}-byte file (truncated file?)`);
      const headerBuf = Buffer.alloc(Number(n));
      fs.readSync(fd, headerBuf, 0, Number(n), 8);
      let header: unknown;
      try {
        header = JSON.parse(headerBuf.toString('utf8'));
      } catch (e) {
        throw fail(`header is not valid JSON (${(e as Error).message})`);
      }
      if (typeof header !== 'object' || header === null || Array.isArray(header)) throw fail('header is not a JSON object');
      return new SafetensorsFile(file, fd, header as Record<string, unknown>, Number(n), size);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  keys(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw this.error(`has no tensor '${name}'`, `it holds ${this.tensors.size} tensors, e.g. ${show(this.keys().slice(0, 3))}`);
    return info;
  }

  /** The tensor's stored bytes, read from its offset (a fresh, aligned copy). */
  readRaw(name: string): RawTensor {
    const info = this.info(name);
    if (this.fd === null) throw this.error('is closed');
    const [begin, end] = info.dataOffsets;
    const data = new Uint8Array(end - begin);
    let done = 0;
    while (done < data.length) {
      const n = fs.readSync(this.fd, data, done, data.length - done, this.dataStart + begin + done);
      if (n === 0) throw this.error(`tensor '${name}' is cut short at byte ${done} of ${data.length} (truncated file?)`);
      done += n;
    }
    return { dtype: info.dtype, shape: info.shape, data };
  }

  /** The tensor as a tf.Tensor: float dtypes become float32, integers int32, BOOL bool. */
  readTensor(name: string): tf.Tensor {
    return rawToTensor(this.readRaw(name), `${path.basename(this.file)}: tensor '${name}'`);
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  private error(msg: string, hint?: string): CheckpointError {
    return new CheckpointError(`${path.basename(this.file)}: ${msg}`, hint);
  }
}

/** Decodes stored bytes to numbers: float32 for float dtypes, int32 for integers (I64 must fit). */
export function decodeRaw(raw: RawTensor, where = 'tensor'): Float32Array | Int32Array | Uint8Array {
  const { data, dtype } = raw;
  const n = data.byteLength / DTYPE_BYTES[dtype];
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  switch (dtype) {
    case 'F32': return new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    case 'F64': { const out = new Float32Array(n); for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true); return out; }
    case 'BF16': { const out = new Uint32Array(n); for (let i = 0; i < n; i++) out[i] = view.getUint16(i * 2, true) << 16; return new Float32Array(out.buffer); }
    case 'F16': { const out = new Float32Array(n); for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(i * 2, true)); return out; }
    case 'U8': return new Int32Array(data);
    case 'BOOL': return new Uint8Array(data);
    case 'I8': return Int32Array.from(new Int8Array(data.buffer, data.byteOffset, n));
    case 'I16': { const out = new Int32Array(n); for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true); return out; }
    case 'I32': { const out = new Int32Array(n); for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, true); return out; }
    case 'I64': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = view.getBigInt64(i * 8, true);
        if (v > 2147483647n || v < -2147483648n) throw new CheckpointError(`${where}: I64 value ${v} at index ${i} does not fit int32`, 'tfjs tensors hold at most 32-bit integers');
        out[i] = Number(v);
      }
      return out;
    }
  }
}

export function rawToTensor(raw: RawTensor, where = 'tensor'): tf.Tensor {
  const values = decodeRaw(raw, where);
  if (raw.dtype === 'BOOL') return tf.tensor(values, raw.shape, 'bool');
  return tf.tensor(values, raw.shape, values instanceof Float32Array ? 'float32' : 'int32');
}

/** Encodes numbers into the stored bytes of `dtype` (floats round to nearest even for BF16/F16). */
export function encodeRaw(values: ArrayLike<number>, dtype: SafetensorsDtype): Uint8Array {
  const n = values.length;
  const out = new Uint8Array(n * DTYPE_BYTES[dtype]);
  const view = new DataView(out.buffer);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    switch (dtype) {
      case 'F32': view.setFloat32(i * 4, v, true); break;
      case 'F64': view.setFloat64(i * 8, v, true); break;
      case 'BF16': {
        f32[0] = v;
        const bits = u32[0];
        const rounded = Number.isNaN(v) ? 0x7fc00000 : bits + 0x7fff + ((bits >>> 16) & 1);
        view.setUint16(i * 2, (rounded >>> 16) & 0xffff, true);
        break;
      }
      case 'F16': view.setUint16(i * 2, floatToHalf(v), true); break;
      case 'U8': view.setUint8(i, v); break;
      case 'BOOL': view.setUint8(i, v ? 1 : 0); break;
      case 'I8': view.setInt8(i, v); break;
      case 'I16': view.setInt16(i * 2, v, true); break;
      case 'I32': view.setInt32(i * 4, v, true); break;
      case 'I64': view.setBigInt64(i * 8, BigInt(Math.trunc(v)), true); break;
    }
  }
  return out;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

function floatToHalf(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -24 / 2) return sign;
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24); // subnormal (round half even is close enough here)
  let e = Math.floor(Math.log2(a));
  let m = Math.round((a / 2 ** e - 1) * 1024);
  if (m === 1024) { m = 0; e += 1; }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | m;
}

/**
 * Writes tensors (raw bytes) to a safetensors file atomically (temporary file, then rename).
 * Tensors are laid out in the given order; the header is padded with spaces to 8 bytes.
 */
export async function saveSafetensors(file: string, tensors: Map<string, RawTensor> | Record<string, RawTensor>, metadata?: Record<string, string>): Promise<void> {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const expected = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== expected) throw new CheckpointError(`${path.basename(file)}: tensor '${name}' has ${t.data.byteLength} bytes, but ${t.dtype} ${show(t.shape)} needs ${expected}`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + expected] };
    offset += expected;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBuf = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBuf.length));
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  const fh = await fs.promises.open(tmp, 'w');
  try {
    await fh.write(len);
    await fh.write(headerBuf);
    for (const [, t] of entries) await fh.write(t.data);
    await fh.close();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
  await fs.promises.rename(tmp, file);
}

/** The raw bytes of a tf.Tensor stored as `dtype` (float tensors as F32/BF16/F16, ints as I32/I64/U8…). */
export async function tensorToRaw(t: tf.Tensor, dtype?: SafetensorsDtype): Promise<RawTensor> {
  const d: SafetensorsDtype = dtype ?? (t.dtype === 'float32' ? 'F32' : t.dtype === 'bool' ? 'BOOL' : 'I32');
  return { dtype: d, shape: [...t.shape], data: encodeRaw(await t.data() as ArrayLike<number>, d) };
}

/** Saves tf tensors (float32 written as F32, or as `dtype` when given) atomically. */
export async function saveTensors(file: string, tensors: Record<string, tf.Tensor>, options: { dtype?: SafetensorsDtype; metadata?: Record<string, string> } = {}): Promise<void> {
  const raw = new Map<string, RawTensor>();
  for (const [name, t] of Object.entries(tensors)) raw.set(name, await tensorToRaw(t, t.dtype === 'float32' ? options.dtype : undefined));
  await saveSafetensors(file, raw, options.metadata);
}

/** Reads every tensor of a file as tf tensors (small files: adapters, tests). */
export function loadTensors(file: string): Record<string, tf.Tensor> {
  const f = SafetensorsFile.open(file);
  try {
    return Object.fromEntries(f.keys().map((k) => [k, f.readTensor(k)]));
  } finally {
    f.close();
  }
}

/** Reads every tensor of a file as raw bytes (the qlora loader keeps U8 NF4 state this way). */
export function loadRaw(file: string): { tensors: Map<string, RawTensor>; metadata: Record<string, string> } {
  const f = SafetensorsFile.open(file);
  try {
    return { tensors: new Map(f.keys().map((k) => [k, f.readRaw(k)])), metadata: f.metadata };
  } finally {
    f.close();
  }
}
