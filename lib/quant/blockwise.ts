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

/** Returns (x) → index of the nearest code value, ties to the lower index, in float32 arithmetic. */
export function nearestIndex(code: Float32Array): (x: number) => number {
  const sorted = code.every((v, i) => i === 0 || v > code[i - 1]);
  if (!sorted) {
    return (x) => {
      let best = 0;
      let bestDist = Infinity;
      for (let i = 0; i < code.length; i++) {
        const d = Math.abs(f(x - code[i]));
        if (d < bestDist) { best = i; bestDist = d; }
      }
      return best;
    };
  }
  return (x) => {
    let lo = 0;
    let hi = code.length - 1;
    if (x <= code[lo]) return lo;
    if (x >= code[hi]) return hi;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (code[mid] <= x) lo = mid; else hi = mid;
    }
    return Math.abs(f(x - code[hi])) < Math.abs(f(x - code[lo])) ? hi : lo;
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
