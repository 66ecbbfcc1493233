/**
 * IEEE half precision (float16) on the host: what the cuda backend's float16 compute dtype does to
 * each operand before a GEMM (`__float2half_rn`), for references and bounds. float16 has an 11-bit
 * significand (unit roundoff 2^-11), a largest finite value of 65504, and subnormals down to 2^-24.
 */

/** The largest finite float16. */
export const FLOAT16_MAX = 65504;

/**
 * `v` rounded to the nearest float16, ties to even, as a number: magnitudes from 65520 (halfway to
 * 2^16) up become ±Infinity, those at or under 2^-25 become ±0. NaN and ±Infinity stay as they are.
 */
export function roundToFloat16(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  const a = Math.abs(v);
  if (a >= 65520) return Math.sign(v) * Infinity;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--; // log2 can round up just under a power of two
  else if (2 ** (e + 1) <= a) e++;
  const ulp = 2 ** (Math.max(e, -14) - 10); // spacing of float16 values at a; 2^-24 for subnormals
  const q = a / ulp; // exact: ulp is a power of two
  let r = Math.round(q); // halves round up here…
  if (r - q === 0.5 && r % 2 === 1) r--; // …and to even in IEEE
  return Math.sign(v) * r * ulp;
}
