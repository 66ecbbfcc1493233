import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError, show } from '../../errors';
import { decodeRaw, encodeRaw, type RawTensor } from '../../model/safetensors';
import { createDynamicMap } from '../../quant/codebooks';
import { paramGroupJSON, type AdamWOptions, type Optimizer, type OptimizerState } from './optimizer';

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
 * bitsandbytes' AdamW8bit (blockwise): both moments stored as 8-bit codes of the dynamic map, one
 * float32 absmax per block of 256. Each step dequantizes a block, applies the AdamW update in
 * float, then re-quantizes with the block's new absmax. 'paged_adamw_8bit' is the same update
 * (paging moves states between GPU and host memory, which has no meaning on CPU).
 * Runs on the host: gradients are read once per step, parameters written back once.
 */
export class AdamW8bit implements Optimizer {
  stepCount = 0;
  readonly blockSize: number;
  readonly min8bitSize: number;
  private moments: Moments[];

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
    this.params.forEach((param, i) => {
      const g = grads[i].dataSync() as Float32Array;
      const p = Float32Array.from(param.dataSync() as Float32Array);
      h.shrink = wd > 0 && (decay?.[i] ?? true) ? 1 - lr * wd : 1;
      const s = this.moments[i];
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
    this.moments.forEach((s, i) => {
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
    this.moments = this.params.map((p, i) => {
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
    this.stepCount = Number(state.meta.step);
  }

  stateBytes(): number {
    return this.moments.reduce((n, s) => n + s.state1.byteLength + s.state2.byteLength + s.absmax1.byteLength + s.absmax2.byteLength, 0);
  }

  dispose(): void {
    this.moments = [];
  }
}
