/**
 * Seeded orderings of a training set: a random permutation per epoch (seed + epoch, so a resumed
 * run draws the same order without saving generator state) and transformers' LengthGroupedSampler.
 */

/** mulberry32: a small, fast, seedable generator of floats in [0, 1). */
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

/** A permutation of 0..n-1 (Fisher–Yates) drawn from `random`. */
export function randperm(n: number, random: () => number): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** The generator for one epoch's ordering. */
export function epochRandom(seed: number, epoch: number): () => number {
  return mulberry32((seed * 1_000_003 + epoch * 7919 + 1) >>> 0);
}

/**
 * transformers' get_length_grouped_indices: a random permutation cut into megabatches of
 * 50 × batchSize, each sorted by length (longest first), and the megabatch holding the longest
 * example moved to the front so an out-of-memory shows at the first step.
 */
export function lengthGroupedIndices(lengths: number[], batchSize: number, random: () => number, megaBatchMult = 50): number[] {
  const indices = randperm(lengths.length, random);
  const size = megaBatchMult * batchSize;
  const megabatches: number[][] = [];
  for (let i = 0; i < indices.length; i += size) {
    megabatches.push(indices.slice(i, i + size).sort((a, b) => lengths[b] - lengths[a]));
  }
  let maxIdx = 0;
  megabatches.forEach((mb, i) => {
    if (lengths[mb[0]] > lengths[megabatches[maxIdx][0]]) maxIdx = i;
  });
  if (megabatches.length > 0) [megabatches[0][0], megabatches[maxIdx][0]] = [megabatches[maxIdx][0], megabatches[0][0]];
  return megabatches.flat();
}

export interface EpochBatchOptions {
  batchSize: number;
  gradientAccumulationSteps: number;
  seed: number;
  dropLast: boolean;
  /** Row lengths when grouping by length (group_by_length); otherwise a plain shuffle. */
  lengths?: number[];
}

/** The micro-batches (row indices) of one epoch, as the Trainer draws them. */
export function epochBatches(numRows: number, epoch: number, o: EpochBatchOptions): number[][] {
  const random = epochRandom(o.seed, epoch);
  const order = o.lengths ? lengthGroupedIndices(o.lengths, o.batchSize * o.gradientAccumulationSteps, random) : randperm(numRows, random);
  return Array.from({ length: numBatches(numRows, o.batchSize, o.dropLast) }, (_, i) => order.slice(i * o.batchSize, (i + 1) * o.batchSize));
}

/** Batches in one epoch (the DataLoader's len). */
export function numBatches(numRows: number, batchSize: number, dropLast: boolean): number {
  return dropLast ? Math.floor(numRows / batchSize) : Math.ceil(numRows / batchSize);
}
