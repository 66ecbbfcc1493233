import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError, show } from '../../errors';
import { decodeRaw, encodeRaw, type RawTensor } from '../../model/safetensors';
import { createDynamicMap } from '../../quant/codebooks';
import { paramGroupJSON, type AdamWOptions, type Optimizer, type OptimizerState } from './optimizer';
import { FUSED_ADAMW } from './adamw';
import { backendHasKernels } from '../../backend/kernel_registry';

/**
 * Name of the fused 8-bit AdamW kernel a backend may register (the cuda backend does):
 * {p, g, state1, state2 (int32 words, four codes each), absmax1, absmax2, map1, map2} with attrs
 * beta1, beta2, eps, shrink (1 − lr·wd or 1), stepSize (lr / bc1), bc2Sqrt, blockSize
 * → [p', state1', state2', absmax1', absmax2'].
 */
export const FUSED_ADAMW8BIT = 'QloraAdamW8bit';

/** Largest block size the fused kernel takes (bitsandbytes' largest, 4096). */
const FUSED_MAX_BLOCK = 4096;

/** Index of the map value nearest to x (the map is sorted ascending; a tie takes the lower). */
export function quantizeNearest(map: Float32Array, x: number, lo = 0, hi = map.length - 1): number {
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (map[mid] <= x) lo = mid;
    else hi = mid;
  }
  return x - map[lo] <= map[hi] - x ? lo : hi;
}

/**
 * quantizeNearest over a map in [-1, 1] with the search narrowed first: 4096 equal buckets of
 * [-1, 1] each know the map entries that bracket them, so most lookups take one or two steps.
 */
export class NearestCode {
  private static readonly BUCKETS = 4096;
  private readonly lo = new Uint8Array(NearestCode.BUCKETS);
  private readonly hi = new Uint8Array(NearestCode.BUCKETS);

  constructor(readonly map: Float32Array) {
    const K = NearestCode.BUCKETS;
    for (let b = 0; b < K; b++) {
      const x0 = -1 + (2 * b) / K;
      const x1 = -1 + (2 * (b + 1)) / K;
      let lo = 0;
      while (lo + 1 < map.length && map[lo + 1] <= x0) lo++;
      let hi = map.length - 1;
      while (hi - 1 >= 0 && map[hi - 1] >= x1) hi--;
      this.lo[b] = lo;
      this.hi[b] = Math.max(hi, lo);
    }
  }

  find(x: number): number {
    const b = Math.min(NearestCode.BUCKETS - 1, Math.max(0, Math.floor((x + 1) * (NearestCode.BUCKETS / 2))));
    return quantizeNearest(this.map, x, this.lo[b], this.hi[b]);
  }
}

/** bitsandbytes' maps: signed for the first moment, unsigned for the second. */
const MAP1 = createDynamicMap(true);
const MAP2 = createDynamicMap(false);
const CODE1 = new NearestCode(MAP1);
const CODE2 = new NearestCode(MAP2);

export interface AdamW8bitOptions extends AdamWOptions {
  /** Elements per quantization block (bitsandbytes: 256). */
  blockSize?: number;
  /** Parameters with fewer elements keep 32-bit moments (bitsandbytes' min_8bit_size, 4096). */
  min8bitSize?: number;
  /** false keeps the host form even where the backend registers the fused kernels (for comparison). */
  fused?: boolean;
}

/** Per-step constants of the update. */
interface StepConstants { b1: number; b2: number; eps: number; stepSize: number; bc2Sqrt: number; shrink: number }

/** One parameter's moments: 8-bit codes with a float32 absmax per block, or plain float32. */
interface Moments {
  state1: Uint8Array | Float32Array;
  state2: Uint8Array | Float32Array;
  absmax1: Float32Array;
  absmax2: Float32Array;
}

/**
 * The same moments as tensors on the backend: codes packed four to an int32 word (byte j of the
 * words is element j's code; int32 so no value is ever read as a float) with absmax (blocks), or
 * float32 m, v shaped like the parameter (absmax undefined).
 */
interface DeviceMoments {
  state1: tf.Tensor;
  state2: tf.Tensor;
  absmax1?: tf.Tensor;
  absmax2?: tf.Tensor;
}

/** 8-bit codes as an int32 tensor of ceil(n / 4) words (the last word padded with zero bytes). */
export function codesTensor(codes: Uint8Array): tf.Tensor {
  const bytes = new Uint8Array(4 * Math.ceil(codes.length / 4));
  bytes.set(codes);
  return tf.tensor1d(new Int32Array(bytes.buffer), 'int32'); // (ceil(n / 4),)
}

/** The first n codes of an int32 tensor made by codesTensor (or the fused kernel). */
export function tensorCodes(words: tf.Tensor, n: number): Uint8Array {
  const w = words.dataSync() as Int32Array;
  return new Uint8Array(w.buffer, w.byteOffset, n).slice();
}

/**
 * bitsandbytes' AdamW8bit (blockwise): both moments stored as 8-bit codes of the dynamic map, one
 * float32 absmax per block of 256. Each step dequantizes a block, applies the AdamW update in
 * float, then re-quantizes with the block's new absmax. 'paged_adamw_8bit' is the same update
 * (paging moves states between GPU and host memory, which has no meaning on CPU).
 *
 * Two forms of the same update. Where the backend registers FUSED_ADAMW8BIT (cuda), the moments
 * live on the device from the first step and each parameter takes one kernel per step (parameters
 * under min8bitSize take the fp32 fused AdamW kernel). Elsewhere the host form runs: gradients
 * are read once per step, parameters written back once. stateDict and loadStateDict are the same
 * for both, so a checkpoint written by either form resumes in the other.
 */
export class AdamW8bit implements Optimizer {
  stepCount = 0;
  readonly blockSize: number;
  readonly min8bitSize: number;
  /** Host moments (host form); empty while they live on the device. */
  private moments: Moments[];
  /** The moments and both maps as backend tensors, from the first fused step until they go back to the host. */
  private device?: { moments: DeviceMoments[]; map1: tf.Tensor; map2: tf.Tensor };

  constructor(readonly params: tf.Variable[], readonly options: AdamW8bitOptions) {
    this.blockSize = options.blockSize ?? 256;
    this.min8bitSize = options.min8bitSize ?? 4096;
    this.moments = params.map((p) => this.emptyMoments(p.size));
  }

  private quantized(size: number): boolean {
    return size >= this.min8bitSize;
  }

  private emptyMoments(size: number): Moments {
    if (!this.quantized(size)) return { state1: new Float32Array(size), state2: new Float32Array(size), absmax1: new Float32Array(0), absmax2: new Float32Array(0) };
    const blocks = Math.ceil(size / this.blockSize);
    const zero1 = quantizeNearest(MAP1, 0);
    const zero2 = quantizeNearest(MAP2, 0);
    return { state1: new Uint8Array(size).fill(zero1), state2: new Uint8Array(size).fill(zero2), absmax1: new Float32Array(blocks), absmax2: new Float32Array(blocks) };
  }

  step(grads: tf.Tensor[], lr: number): void {
    const { betas: [b1, b2], eps, weightDecay: wd, decay } = this.options;
    this.stepCount++;
    const h: StepConstants = { b1, b2, eps, stepSize: lr / (1 - b1 ** this.stepCount), bc2Sqrt: Math.sqrt(1 - b2 ** this.stepCount), shrink: 1 };
    const shrink = (i: number) => (wd > 0 && (decay?.[i] ?? true) ? 1 - lr * wd : 1);
    if (this.options.fused !== false && this.blockSize <= FUSED_MAX_BLOCK && backendHasKernels(FUSED_ADAMW8BIT, FUSED_ADAMW)) {
      this.stepFused(grads, lr, h, shrink);
      return;
    }
    const moments = this.hostMoments();
    this.params.forEach((param, i) => {
      const g = grads[i].dataSync() as Float32Array;
      const p = Float32Array.from(param.dataSync() as Float32Array);
      h.shrink = shrink(i);
      const s = moments[i];
      if (s.state1 instanceof Float32Array) {
        const m = s.state1;
        const v = s.state2 as Float32Array;
        for (let j = 0; j < p.length; j++) {
          m[j] = m[j] * b1 + (1 - b1) * g[j];
          v[j] = v[j] * b2 + (1 - b2) * g[j] * g[j];
          p[j] = p[j] * h.shrink - h.stepSize * (m[j] / (Math.sqrt(v[j]) / h.bc2Sqrt + eps));
        }
      } else {
        this.stepQuantized(s, p, g, h);
      }
      const next = tf.tensor(p, param.shape, 'float32');
      param.assign(next);
      next.dispose();
    });
  }

  /** One kernel per parameter on the backend; its outputs replace the moments, which never leave the device. */
  private stepFused(grads: tf.Tensor[], lr: number, h: StepConstants, shrink: (i: number) => number): void {
    const { moments, map1, map2 } = this.deviceState();
    const { b1, b2, eps, stepSize, bc2Sqrt } = h;
    this.params.forEach((p, i) => {
      const s = moments[i];
      const g = grads[i];
      let out: tf.Tensor[];
      if (s.absmax1 && s.absmax2) {
        out = tf.engine().runKernel(FUSED_ADAMW8BIT, { p, g, state1: s.state1, state2: s.state2, absmax1: s.absmax1, absmax2: s.absmax2, map1, map2 },
          { beta1: b1, beta2: b2, eps, shrink: shrink(i), stepSize, bc2Sqrt, blockSize: this.blockSize }) as tf.Tensor[];
        tf.dispose([s.state1, s.state2, s.absmax1, s.absmax2]);
        [s.state1, s.state2, s.absmax1, s.absmax2] = out.slice(1);
      } else {
        out = tf.engine().runKernel(FUSED_ADAMW, { p, g, m: s.state1, v: s.state2 },
          { lr, beta1: b1, beta2: b2, eps, decay: shrink(i), stepSize, bc2Sqrt }) as tf.Tensor[];
        tf.dispose([s.state1, s.state2]);
        [s.state1, s.state2] = out.slice(1);
      }
      p.assign(out[0]);
      out[0].dispose();
    });
  }

  /** The moments as backend tensors, uploaded from the host arrays on the first fused step (or the first after a load). */
  private deviceState(): { moments: DeviceMoments[]; map1: tf.Tensor; map2: tf.Tensor } {
    if (!this.device) {
      const moments = this.moments.map((s, i): DeviceMoments => (s.state1 instanceof Uint8Array
        ? { state1: codesTensor(s.state1), state2: codesTensor(s.state2 as Uint8Array), absmax1: tf.tensor1d(s.absmax1), absmax2: tf.tensor1d(s.absmax2) }
        : { state1: tf.tensor(s.state1, this.params[i].shape, 'float32'), state2: tf.tensor(s.state2, this.params[i].shape, 'float32') }));
      this.device = { moments, map1: tf.tensor1d(MAP1), map2: tf.tensor1d(MAP2) };
      this.moments = [];
    }
    return this.device;
  }

  /** The moments as host arrays: downloaded from the device (without moving them) when they live there. */
  private readMoments(): Moments[] {
    if (!this.device) return this.moments;
    return this.device.moments.map((d, i) => {
      const n = this.params[i].size;
      if (!d.absmax1 || !d.absmax2) return { state1: new Float32Array(d.state1.dataSync() as Float32Array), state2: new Float32Array(d.state2.dataSync() as Float32Array), absmax1: new Float32Array(0), absmax2: new Float32Array(0) };
      return { state1: tensorCodes(d.state1, n), state2: tensorCodes(d.state2, n), absmax1: new Float32Array(d.absmax1.dataSync() as Float32Array), absmax2: new Float32Array(d.absmax2.dataSync() as Float32Array) };
    });
  }

  /** The moments as host arrays for the host form, brought back (and the device tensors freed) if they lived on the device. */
  private hostMoments(): Moments[] {
    if (this.device) {
      this.moments = this.readMoments();
      this.freeDevice();
    }
    return this.moments;
  }

  private freeDevice(): void {
    if (!this.device) return;
    const { moments, map1, map2 } = this.device;
    tf.dispose([map1, map2, ...moments.flatMap((d) => [d.state1, d.state2, ...(d.absmax1 ? [d.absmax1] : []), ...(d.absmax2 ? [d.absmax2] : [])])]);
    this.device = undefined;
  }

  /** Dequantize block → AdamW update (p in place) → new absmax → re-quantize, block by block. */
  private stepQuantized(s: Moments, p: Float32Array, g: Float32Array, h: StepConstants): void {
    const { b1, b2, eps, stepSize, bc2Sqrt, shrink } = h;
    const c1 = s.state1 as Uint8Array;
    const c2 = s.state2 as Uint8Array;
    const m = new Float32Array(this.blockSize);
    const v = new Float32Array(this.blockSize);
    for (let b = 0, start = 0; start < p.length; b++, start += this.blockSize) {
      const end = Math.min(start + this.blockSize, p.length);
      const a1 = s.absmax1[b];
      const a2 = s.absmax2[b];
      let max1 = 0;
      let max2 = 0;
      for (let j = start, k = 0; j < end; j++, k++) {
        const m2 = MAP1[c1[j]] * a1 * b1 + (1 - b1) * g[j];
        const v2 = MAP2[c2[j]] * a2 * b2 + (1 - b2) * g[j] * g[j];
        p[j] = p[j] * shrink - stepSize * (m2 / (Math.sqrt(v2) / bc2Sqrt + eps));
        m[k] = m2;
        v[k] = v2;
        if (Math.abs(m2) > max1) max1 = Math.abs(m2);
        if (v2 > max2) max2 = v2;
      }
      s.absmax1[b] = max1;
      s.absmax2[b] = max2;
      for (let j = start, k = 0; j < end; j++, k++) {
        c1[j] = CODE1.find(max1 > 0 ? m[k] / max1 : 0);
        c2[j] = CODE2.find(max2 > 0 ? v[k] / max2 : 0);
      }
    }
  }

  /** bitsandbytes' state names: state1/state2 (U8 codes or F32), absmax1/absmax2 per block. */
  async stateDict(): Promise<OptimizerState> {
    const tensors = new Map<string, RawTensor>();
    this.readMoments().forEach((s, i) => {
      const shape = [...this.params[i].shape];
      for (const key of ['state1', 'state2'] as const) {
        const data = s[key];
        tensors.set(`state.${i}.${key}`, data instanceof Uint8Array ? { dtype: 'U8', shape, data: new Uint8Array(data) } : { dtype: 'F32', shape, data: encodeRaw(data, 'F32') });
      }
      if (s.state1 instanceof Uint8Array) {
        tensors.set(`state.${i}.absmax1`, { dtype: 'F32', shape: [s.absmax1.length], data: encodeRaw(s.absmax1, 'F32') });
        tensors.set(`state.${i}.absmax2`, { dtype: 'F32', shape: [s.absmax2.length], data: encodeRaw(s.absmax2, 'F32') });
      }
    });
    const meta = { optimizer: 'adamw_8bit', step: this.stepCount, block_size: this.blockSize, min_8bit_size: this.min8bitSize, param_groups: [paramGroupJSON(this.options, this.params.length)] };
    return { tensors, meta };
  }

  loadStateDict(state: OptimizerState, where: string): void {
    if (state.meta.optimizer !== 'adamw_8bit') throw new CheckpointError(`${where}: optimizer state is ${show(state.meta.optimizer)}, but this run uses an 8-bit AdamW`, 'resume with the same `optim` the checkpoint was trained with');
    const moments = this.params.map((p, i) => {
      const s = this.emptyMoments(p.size);
      const read = (key: string, into: Uint8Array | Float32Array) => {
        const raw = state.tensors.get(`state.${i}.${key}`);
        const values = raw ? decodeRaw(raw, `${where}: state.${i}.${key}`) : undefined;
        if (!values || values.length !== into.length) throw new CheckpointError(`${where}: 'state.${i}.${key}' is ${raw ? `shaped ${show(raw.shape)}` : 'missing'}, expected ${into.length} values for parameter ${i} ${show(p.shape)}`, 'the checkpoint was written for other trainable parameters or another block size');
        into.set(values);
      };
      read('state1', s.state1);
      read('state2', s.state2);
      if (s.state1 instanceof Uint8Array) {
        read('absmax1', s.absmax1);
        read('absmax2', s.absmax2);
      }
      return s;
    });
    this.freeDevice(); // the next fused step uploads the loaded moments
    this.moments = moments;
    this.stepCount = Number(state.meta.step);
  }

  /** Bytes of both moments (on the device: codes in whole int32 words, so up to 3 bytes more per state). */
  stateBytes(): number {
    if (this.device) return this.device.moments.reduce((n, d) => n + 4 * (d.state1.size + d.state2.size + (d.absmax1?.size ?? 0) + (d.absmax2?.size ?? 0)), 0);
    return this.moments.reduce((n, s) => n + s.state1.byteLength + s.state2.byteLength + s.absmax1.byteLength + s.absmax2.byteLength, 0);
  }

  dispose(): void {
    this.freeDevice();
    this.moments = [];
  }
}
