/**
 * The fixed value tables of bitsandbytes' 4-bit and 8-bit blockwise formats. A weight block is
 * scaled into [-1, 1] by its absmax and each element stored as the index of its nearest table value.
 */

/** NF4: quantiles of N(0, 1) normalised to [-1, 1], index 0..15 (bitsandbytes `get_4bit_type('nf4')`). */
export const NF4_CODE = Float32Array.from([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
  -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
  0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
  0.7229568362236023, 1.0,
]);

/**
 * FP4 (1 sign, 2 exponent, 1 mantissa bits, bias 3), divided by its max 12: bit 3 is the sign,
 * so index 8 is -0 (bitsandbytes `get_4bit_type('fp4')`).
 */
export const FP4_CODE = Float32Array.from(
  [0, 0.0625, 8.0, 12.0, 4.0, 6.0, 2.0, 3.0, -0, -0.0625, -8.0, -12.0, -4.0, -6.0, -2.0, -3.0].map((v) => v / 12),
);

export function codeFor(quantType: 'nf4' | 'fp4'): Float32Array {
  return quantType === 'nf4' ? NF4_CODE : FP4_CODE;
}

const f = Math.fround;

/**
 * torch.linspace(start, end, steps, dtype=float32) as torch 2.x computes it on CPU, bit for bit:
 * the first half counts up from start, the second down from end, each value one fused
 * multiply-add (torch 1.13 differed in the last bit of some values: it vectorized in 8-lane chunks).
 */
function linspace32(start: number, end: number, steps: number): number[] {
  const s = f(start);
  const e = f(end);
  const step = f(f(e - s) / (steps - 1));
  const half = Math.floor(steps / 2);
  return Array.from({ length: steps }, (_, i) => (i < half ? f(step * i + s) : f(-step * (steps - i - 1) + e)));
}

/**
 * bitsandbytes' `create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)`: the 256-value
 * map that double quantization uses for the absmax values. For exponent i = 0..6 it takes the
 * midpoints of linspace(0.1, 1, 2^i + 1) scaled by 10^(i-6), both signs, then 0 and 1, sorted.
 * `signed = false` (the 8-bit optimizers' second state) takes 2^(i+1) + 1 points and one sign.
 */
export function createDynamicMap(signed = true): Float32Array {
  const maxExponentBits = 7;
  const data: number[] = [];
  for (let i = 0; i < maxExponentBits; i++) {
    const bounds = linspace32(0.1, 1, (signed ? 2 ** i : 2 ** (i + 1)) + 1);
    const scale = f(10 ** (i - (maxExponentBits - 1)));
    for (const sign of signed ? [1, -1] : [1]) {
      for (let j = 0; j + 1 < bounds.length; j++) {
        const mean = f(f(bounds[j] + bounds[j + 1]) / 2);
        data.push(f(sign * scale * mean));
      }
    }
  }
  data.push(0, 1);
  data.sort((a, b) => a - b);
  return Float32Array.from(data);
}

/** The dynamic map, built once. */
export const DYNAMIC_MAP = createDynamicMap();
