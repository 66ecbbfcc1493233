/**
 * Aggregating per-sample ROUGE scores, as rouge_score's scoring.py:
 *
 * - `BootstrapAggregator` (what HF evaluate uses when `use_aggregator=True`, its default): draw
 *   `nSamples` (1000) resamples of the rows with replacement, take each resample's mean
 *   precision/recall/F, and report the 2.5th, 50th and 97.5th percentiles (numpy's linear
 *   interpolation) as low / mid / high. evaluate returns `mid.fmeasure`. rouge_score draws with
 *   numpy's unseeded global generator; here the draws come from a seeded generator, so one input
 *   always gives one answer (and a different seed moves `mid` only by resampling noise).
 * - `meanAggregate`: the plain mean, which `mid` estimates.
 */
import type { Score, RougeScores } from './rouge_scorer';

export interface AggregateScore {
  low: Score;
  mid: Score;
  high: Score;
}

import { mulberry32 } from '../random';

/** numpy.percentile with the default 'linear' method, on an ascending-sorted array. */
export function percentileSorted(sorted: Float64Array | number[], q: number): number {
  const pos = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export interface BootstrapOptions {
  confidenceInterval?: number;
  nSamples?: number;
  seed?: number;
}

export class BootstrapAggregator {
  readonly confidenceInterval: number;
  readonly nSamples: number;
  readonly seed: number;
  private readonly scores = new Map<string, Score[]>();

  constructor(options: BootstrapOptions = {}) {
    this.confidenceInterval = options.confidenceInterval ?? 0.95;
    this.nSamples = options.nSamples ?? 1000;
    this.seed = options.seed ?? 42;
  }

  addScores(scores: RougeScores): void {
    for (const [type, score] of Object.entries(scores)) {
      if (!this.scores.has(type)) this.scores.set(type, []);
      this.scores.get(type)!.push(score);
    }
  }

  aggregate(): Record<string, AggregateScore> {
    const out: Record<string, AggregateScore> = {};
    for (const [type, rows] of this.scores) out[type] = this.resample(rows);
    return out;
  }

  private resample(rows: Score[]): AggregateScore {
    // Every type gets its own generator from the same seed, so adding a type leaves the others unchanged.
    const random = mulberry32(this.seed);
    const n = rows.length;
    const means = [new Float64Array(this.nSamples), new Float64Array(this.nSamples), new Float64Array(this.nSamples)];
    for (let s = 0; s < this.nSamples; s++) {
      let p = 0;
      let r = 0;
      let f = 0;
      for (let k = 0; k < n; k++) {
        const row = rows[Math.floor(random() * n)];
        p += row.precision;
        r += row.recall;
        f += row.fmeasure;
      }
      means[0][s] = p / n;
      means[1][s] = r / n;
      means[2][s] = f / n;
    }
    for (const m of means) m.sort();
    const tail = (1 - this.confidenceInterval) / 2;
    const at = (q: number): Score => ({
      precision: percentileSorted(means[0], q),
      recall: percentileSorted(means[1], q),
      fmeasure: percentileSorted(means[2], q),
    });
    return { low: at(100 * tail), mid: at(50), high: at(100 * (1 - tail)) };
  }
}

/** The plain mean of each type's precision, recall and F over the samples. */
export function meanAggregate(all: RougeScores[]): RougeScores {
  const out: RougeScores = {};
  if (all.length === 0) return out;
  for (const type of Object.keys(all[0])) {
    let p = 0;
    let r = 0;
    let f = 0;
    for (const s of all) {
      p += s[type].precision;
      r += s[type].recall;
      f += s[type].fmeasure;
    }
    out[type] = { precision: p / all.length, recall: r / all.length, fmeasure: f / all.length };
  }
  return out;
}
