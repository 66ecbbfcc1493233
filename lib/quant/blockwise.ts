import { ArgumentError, show } from '../errors';

/**
 * Blockwise absmax quantization on host arrays, as bitsandbytes does it: the flattened input is
 * cut into blocks of `blocksize` consecutive elements (the last one may be short), each block is
 * scaled by the reciprocal of its absolute maximum into [-1, 1], and each element is stored as
 * the index of the nearest value of `code` (a tie takes the lower index, like torch.argmin).
 */

const f = Math.fround;

export function checkBlocksize(blocksize: number, argument = 'blocksize'): void {
  const ok = Number.isInteger(blocksize) && blocksize >= 32 && blocksize <= 4096 && (blocksize & (blocksize - 1)) === 0;
  if (!ok) throw new ArgumentError(`\`${argument}\` must be a power of two from 32 to 4096, got ${show(blocksize)}.`, 'bitsandbytes supports 32, 64, 128, … 4096; the default is 64.');
}

const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);

/** The next float32 above (dir 1) or below (dir −1) x. */
function nextFloat32(x: number, dir: 1 | -1): number {
  f32[0] = x;
  if (x === 0) return dir * 1.401298464324817e-45;
  i32[0] += (x > 0) === (dir > 0) ? 1 : -1;
  return f32[0];
}

/**
 * Returns (x) → index of the nearest code value in float32 arithmetic, ties to the lower index
 * (torch.argmin over |x − code|). The code values are sorted once, and between each neighbouring
 * pair the exact float32 threshold where the answer flips is found, so a lookup is a binary search
 * over at most 255 thresholds instead of a scan of every code.
 */
export function nearestIndex(code: Float32Array): (x: number) => number {
  const order = Array.from(code, (v, i) => [v, i] as const).sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  const values: number[] = [];
  const index: number[] = [];
  for (const [v, i] of order) {
    if (values.length > 0 && values[values.length - 1] === v) continue; // equal values (±0): argmin keeps the first index
    values.push(v);
    index.push(i);
  }
  const thresholds: number[] = []; // thresholds[k]: smallest float32 x that maps to values[k + 1] rather than values[k]
  for (let k = 0; k + 1 < values.length; k++) {
    const [a, b] = [values[k], values[k + 1]];
    const upper = (x: number) => {
      const da = Math.abs(f(x - a));
      const db = Math.abs(f(x - b));
      return db < da || (db === da && index[k + 1] < index[k]);
    };
    let t = f((a + b) / 2);
    while (upper(nextFloat32(t, -1))) t = nextFloat32(t, -1);
    while (!upper(t)) t = nextFloat32(t, 1);
    thresholds.push(t);
  }
  return (x) => {
    let lo = 0;
    let hi = thresholds.length; // answer: number of thresholds ≤ x
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (thresholds[mid] <= x) lo = mid + 1; else hi = mid;
    }
    return index[lo];
  };
}

export interface Blockwise {
  /** One code index per element. */
  indices: Uint8Array;
  /** One absolute maximum per block, float32. */
  absmax: Float32Array;
}

export function quantizeBlockwise(values: ArrayLike<number>, code: Float32Array, blocksize: number): Blockwise {
  const n = values.length;
  const nBlocks = Math.ceil(n / blocksize);
  const indices = new Uint8Array(n);
  const absmax = new Float32Array(nBlocks);
  const nearest = nearestIndex(code);
  const zero = nearest(0);
  for (let b = 0; b < nBlocks; b++) {
    const begin = b * blocksize;
    const end = Math.min(begin + blocksize, n);
    let m = 0;
    for (let i = begin; i < end; i++) m = Math.max(m, Math.abs(values[i]));
    absmax[b] = m;
    if (m === 0) { indices.fill(zero, begin, end); continue; }
    const inv = f(1 / f(m));
    for (let i = begin; i < end; i++) {
      const s = Math.min(1, Math.max(-1, f(values[i] * inv)));
      indices[i] = nearest(s);
    }
  }
  return { indices, absmax };
}

/** value = code[index] · absmax of its block, float32. */
export function dequantizeBlockwise(indices: ArrayLike<number>, absmax: Float32Array, code: Float32Array, blocksize: number, out = new Float32Array(indices.length)): Float32Array {
  for (let i = 0; i < indices.length; i++) out[i] = code[indices[i]] * absmax[Math.floor(i / blocksize)];
  return out;
}

/** Two 4-bit indices per byte, the first element in the HIGH nibble; an odd tail leaves the low nibble 0. */
export function packNibbles(indices: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(indices.length / 2));
  for (let i = 0; i < indices.length; i += 2) out[i >> 1] = (indices[i] << 4) | (i + 1 < indices.length ? indices[i + 1] : 0);
  return out;
}

export function unpackNibbles(packed: Uint8Array, n: number): Uint8Array {
  if (packed.length < Math.ceil(n / 2)) throw new ArgumentError(`packed 4-bit data holds ${packed.length} bytes, ${Math.ceil(n / 2)} needed for ${n} elements.`);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i & 1) === 0 ? packed[i >> 1] >> 4 : packed[i >> 1] & 15;
  return out;
}
