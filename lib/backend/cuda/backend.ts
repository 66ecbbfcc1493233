import * as tf from '@tensorflow/tfjs-core';
import { backend_util, DataStorage, DataType, KernelBackend, TensorInfo } from '@tensorflow/tfjs-core';
import type { CudaAddon } from './addon';

type DataId = object;

/**
 * One tensor's storage. tfjs tensors are immutable, so a float32 tensor may hold a device copy
 * (`ptr`) and a host copy (`host`) at once; each is made on first need. Only float32 lives on the
 * device; int32, bool and string tensors (token ids, masks) stay on the host.
 */
interface CudaData {
  dtype: DataType;
  size: number;
  ptr?: number; // device float32[size], or bfloat16[size] when bf16
  host?: backend_util.BackendValues;
  refCount: number;
  /** Stored as bfloat16 on the device (a frozen weight, see storeAsBf16); tfjs still sees float32. */
  bf16?: boolean;
  /** A float32 copy of a bf16 tensor, made the first time a kernel without bf16 support reads it. */
  wide?: number;
}

/** The `cuda` tfjs backend: device memory through the addon's caching allocator. */
export class CudaBackend extends KernelBackend {
  readonly data: DataStorage<CudaData>;
  private readonly warned = new Set<string>();
  /**
   * Use TF32 tensor cores for float32 matmuls (like torch.backends.cuda.matmul.allow_tf32);
   * QLORA_TS_CUDA_TF32=0 turns it off (plain fp32: ~1e-6 instead of ~1e-3 relative error).
   */
  allowTf32 = process.env.QLORA_TS_CUDA_TF32 !== '0';
  /**
   * Round matmul inputs to bfloat16 (fp32 accumulate and output), the tensor-core path torch's
   * autocast takes: QLORA_TS_CUDA_MATMUL=bf16. Overrides allowTf32.
   */
  bf16Matmul = process.env.QLORA_TS_CUDA_MATMUL === 'bf16';

  /** The addon's matmul mode: 0 fp32, 1 tf32, 2 bf16 inputs. */
  matmulMode(): number {
    return this.bf16Matmul ? 2 : this.allowTf32 ? 1 : 0;
  }

  constructor(readonly addon: CudaAddon) {
    super();
    this.data = new DataStorage(this, tf.engine());
  }

  // ---------------------------------------------------------------- storage
  write(values: backend_util.BackendValues, shape: number[], dtype: DataType): DataId {
    const dataId = {};
    this.data.set(dataId, { dtype, size: tf.util.sizeFromShape(shape), host: values, refCount: 1 });
    return dataId;
  }

  move(dataId: DataId, values: backend_util.BackendValues, shape: number[], dtype: DataType, refCount: number): void {
    this.data.set(dataId, { dtype, size: tf.util.sizeFromShape(shape), host: values, refCount });
  }

  makeTensorInfo(shape: number[], dtype: DataType, values?: backend_util.BackendValues): TensorInfo {
    const dataId = this.write(values ?? tf.util.getTypedArrayFromDType(dtype as 'float32', tf.util.sizeFromShape(shape)), shape, dtype);
    return { dataId, shape, dtype };
  }

  /** A new float32 (or int32: a one-hot of labels) output on the device, uninitialised. */
  makeDeviceOutput(shape: number[], dtype: 'float32' | 'int32' = 'float32'): TensorInfo {
    const size = tf.util.sizeFromShape(shape);
    const dataId = {};
    this.data.set(dataId, { dtype, size, ptr: size > 0 ? this.addon.alloc(size * 4) : 0, refCount: 1 });
    return { dataId, shape, dtype };
  }

  /** Whether a tensor's values are on the device only (no host copy yet). */
  deviceOnly(t: TensorInfo): boolean {
    const d = this.data.get(t.dataId)!;
    return d.host === undefined && d.ptr !== undefined;
  }

  /** Device pointer of a float32 tensor, uploading its host copy on first use. */
  devicePtr(t: TensorInfo): number {
    const d = this.data.get(t.dataId)!;
    if (d.dtype !== 'float32') throw new Error(`cuda backend: device data is float32 only, got ${d.dtype}`);
    if (d.bf16) return this.widened(d);
    if (d.ptr === undefined) {
      d.ptr = d.size > 0 ? this.addon.alloc(d.size * 4) : 0;
      if (d.size > 0) this.addon.upload(d.ptr, d.host as Float32Array);
    }
    return d.ptr;
  }

  /** The bfloat16 device pointer of a tensor stored in bf16 (storeAsBf16), else undefined. */
  bf16Ptr(t: TensorInfo): number | undefined {
    const d = this.data.get(t.dataId)!;
    return d.bf16 ? d.ptr : undefined;
  }

  /**
   * Keeps a float32 tensor as bfloat16 on the device from now on: half the memory, values rounded
   * to bf16 (reads return the rounded values). Gather, the B side of matmuls and the fused lm_head
   * loss read it directly; any other kernel gets a float32 copy made once (with a warning).
   */
  storeAsBf16(t: TensorInfo): void {
    const d = this.data.get(t.dataId)!;
    if (d.dtype !== 'float32') throw new Error(`cuda backend: only float32 tensors can be stored as bf16, got ${d.dtype}`);
    if (d.bf16 || d.size === 0) return;
    const src = this.devicePtr(t);
    const p16 = this.addon.alloc(d.size * 2);
    this.addon.toBf16(src, p16, d.size);
    this.addon.free(src, d.size * 4);
    Object.assign(d, { ptr: p16, bf16: true, host: undefined });
  }

  private widened(d: CudaData): number {
    if (d.wide === undefined) {
      this.warnFallback('a float32 read of a bf16-stored weight');
      d.wide = this.addon.alloc(d.size * 4);
      this.addon.fromBf16(d.ptr!, d.wide, d.size);
    }
    return d.wide;
  }

  /**
   * Device copy of an int32 or bool tensor (int32 words / one byte per bool), uploaded once from
   * the host copy and kept with the tensor: token ids, segment ids and masks read by kernels.
   */
  indexPtr(t: TensorInfo): number {
    const d = this.data.get(t.dataId)!;
    if (d.dtype !== 'int32' && d.dtype !== 'bool') throw new Error(`cuda backend: indexPtr takes int32 or bool, got ${d.dtype}`);
    if (d.ptr === undefined) {
      d.ptr = d.size > 0 ? this.addon.alloc(d.size * 4) : 0;
      if (d.size > 0) this.addon.upload(d.ptr, d.host as Int32Array | Uint8Array);
    }
    return d.ptr;
  }

  /** A temporary device buffer holding `values` (free it with `addon.free(ptr, bytes)`). */
  uploadTemp(values: Float32Array | Int32Array): { ptr: number; bytes: number } {
    const bytes = Math.max(4, values.length * 4);
    const ptr = this.addon.alloc(bytes);
    if (values.length > 0) this.addon.upload(ptr, values);
    return { ptr, bytes };
  }

  refCount(dataId: DataId): number {
    return this.data.has(dataId) ? this.data.get(dataId)!.refCount : 0;
  }
  incRef(dataId: DataId): void {
    this.data.get(dataId)!.refCount++;
  }
  /** A tensor sharing t's data (no copy), seen with `shape`: Reshape, Identity, a same-dtype Cast, AddN of one. */
  alias(t: TensorInfo, shape: number[] = t.shape): TensorInfo {
    this.incRef(t.dataId);
    return { dataId: t.dataId, shape, dtype: t.dtype };
  }
  numDataIds(): number {
    return this.data.numDataIds();
  }

  async read(dataId: DataId): Promise<backend_util.BackendValues> {
    return this.readSync(dataId);
  }

  readSync(dataId: DataId): backend_util.BackendValues {
    const d = this.data.get(dataId)!;
    if (d.host === undefined) {
      const out = d.dtype === 'int32' ? new Int32Array(d.size) : new Float32Array(d.size);
      if (d.size > 0 && d.bf16) {
        const tmp = this.addon.alloc(d.size * 4);
        this.addon.fromBf16(d.ptr!, tmp, d.size);
        this.addon.download(tmp, out);
        this.addon.free(tmp, d.size * 4);
      } else if (d.size > 0) {
        this.addon.download(d.ptr!, out);
      }
      d.host = out;
      if (this.float16Matmuls) this.noticeFloat16Overflow(); // the download waited for every queued kernel
    }
    return d.host;
  }

  disposeData(dataId: DataId, force = false): boolean {
    if (!this.data.has(dataId)) return true;
    const d = this.data.get(dataId)!;
    d.refCount--;
    if (!force && d.refCount > 0) return false;
    if (d.ptr !== undefined && d.size > 0) this.addon.free(d.ptr, d.size * (d.bf16 ? 2 : 4));
    if (d.wide !== undefined) this.addon.free(d.wide, d.size * 4);
    this.data.delete(dataId);
    return true;
  }

  disposeIntermediateTensorInfo(t: TensorInfo): void {
    this.disposeData(t.dataId);
  }

  memory(): { unreliable: boolean; numBytesInGPU: number; numBytesInGPUAllocated: number; numBytesInGPUFree: number } {
    const s = this.addon.memoryStats();
    return { unreliable: false, numBytesInGPU: s.allocated, numBytesInGPUAllocated: s.allocated + s.cached, numBytesInGPUFree: s.cached };
  }

  async time(f: () => void): Promise<tf.BackendTimingInfo> {
    const t0 = performance.now();
    f();
    this.addon.sync();
    return { kernelMs: performance.now() - t0 };
  }

  floatPrecision(): 32 {
    return 32;
  }
  epsilon(): number {
    return 1e-7;
  }
  dispose(): void {
    this.addon.sync();
    this.addon.emptyCache();
  }

  private float16Matmuls = false;
  private float16Warned = 0;
  /**
   * Warns once per kind when float16 Matmul4bit calls have rounded values beyond ±65504 to ±inf (the
   * addon's float16Overflow bits: 1 activations, 2 dequantized weight values). Called by each such call
   * and, once there has been one, after each download, so an overflow is told at the latest when the
   * next value is read.
   */
  noticeFloat16Overflow(): void {
    this.float16Matmuls = true;
    const fresh = this.addon.float16Overflow() & ~this.float16Warned;
    if (!fresh) return;
    this.float16Warned |= fresh;
    const what = [fresh & 1 ? 'activations' : '', fresh & 2 ? 'dequantized 4-bit weight values' : ''].filter(Boolean).join(' and ');
    console.warn(`qlora-ts cuda: Matmul4bit with compute dtype float16: ${what} beyond ±65504, float16's largest value, became ±inf, `
      + "so the layer's outputs (and the loss) hold inf or NaN; bitsandbytes overflows the same way. "
      + "Hint: use bnb_4bit_compute_dtype 'bfloat16', which has float32's range.");
  }

  /** Says once per kernel that it runs on the CPU implementation (copies both ways). */
  warnFallback(kernelName: string): void {
    if (this.warned.has(kernelName)) return;
    this.warned.add(kernelName);
    if (process.env.QLORA_TS_CUDA_QUIET !== '1') {
      console.warn(kernelName.startsWith('a float32 read')
        ? 'qlora-ts cuda: a kernel without bf16 support read a weight stored in bf16; a float32 copy of it is kept on the device.'
        : `qlora-ts cuda: kernel '${kernelName}' has no CUDA implementation yet; it runs on the CPU implementation.`);
    }
  }
}
