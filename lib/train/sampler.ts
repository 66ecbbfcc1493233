import { permutation } from '../random';

/**
 * Seeded orderings of a training set: a random permutation per epoch (seed + epoch, so a resumed
 * run draws the same order without saving generator state) and transformers' LengthGroupedSampler.
 */

/** The seed of one epoch's ordering (so a resumed run redraws it from the args alone). */
export function epochSeed(seed: number, epoch: number): number {
  return (seed * 1_000_003 + epoch * 7919 + 1) >>> 0;
}

/**
 * transformers' get_length_grouped_indices: a random permutation cut into megabatches of
 * 50 × batchSize, each sorted by length (longest first), and the megabatch holding the longest
 * example moved to the front so an out-of-memory shows at the first step.
 */
export function lengthGroupedIndices(lengths: number[], batchSize: number, seed: number, megaBatchMult = 50): number[] {
  const indices = permutation(lengths.length, seed);
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
  const seed = epochSeed(o.seed, epoch);
  const order = o.lengths ? lengthGroupedIndices(o.lengths, o.batchSize * o.gradientAccumulationSteps, seed) : permutation(numRows, seed);
  return Array.from({ length: numBatches(numRows, o.batchSize, o.dropLast) }, (_, i) => order.slice(i * o.batchSize, (i + 1) * o.batchSize));
}

/** Batches in one epoch (the DataLoader's len). */
export function numBatches(numRows: number, batchSize: number, dropLast: boolean): number {
  return dropLast ? Math.floor(numRows / batchSize) : Math.ceil(numRows / batchSize);
}
