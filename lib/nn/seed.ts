/**
 * A nonzero seed mixed from integers (tfjs draws from Math.random when a seed is 0, so 0 must
 * never reach it).
 */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) h = Math.imul(h ^ (p | 0), 0x85ebca6b) ^ (h >>> 13);
  return (h >>> 0) || 1;
}
