/**
 * The one seeded random source of the library: `Dataset.shuffle` and `trainTestSplit`, the
 * Trainer's epoch orderings, sampling in `generate`, ROUGE's bootstrap, the data generators.
 *
 * mulberry32 (Tommy Ettinger's 32-bit generator): one 32-bit state, a full 2^32 period, good
 * statistical quality for shuffling, identical on every platform. The same seed gives the same
 * permutation here every time; it is NOT the permutation Hugging Face datasets gives for that seed
 * (that one comes from numpy's PCG64 generator).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A permutation of 0..n-1 by Fisher–Yates (Durstenfeld), drawing from mulberry32(seed). */
export function permutation(n: number, seed: number): number[] {
  const next = mulberry32(seed);
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}
