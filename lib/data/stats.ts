/**
 * Per-column statistics for `Dataset.describe()`: the column's kind, how many values and nulls,
 * distinct values, and — for text and list columns — length statistics (characters and words for
 * text, items for lists), which is what one wants to know before choosing a max length.
 */
export interface ColumnStats {
  column: string;
  /** 'string' | 'number' | 'boolean' | 'list' | 'mixed' | 'null' */
  kind: string;
  count: number;
  nulls: number;
  unique: number;
  /** For numbers: the values; for text: characters; for lists: items. */
  min: number | null;
  mean: number | null;
  median: number | null;
  max: number | null;
  /** Words per text cell (whitespace separated); null for other kinds. */
  meanWords: number | null;
}

export interface Summary { min: number; mean: number; median: number; max: number; std: number; count: number }

/** min / mean / median / max / population std of numbers (median of an even count: mean of the middle two). */
export function summarize(values: number[]): Summary {
  const n = values.length;
  if (n === 0) return { min: NaN, mean: NaN, median: NaN, max: NaN, std: NaN, count: 0 };
  const sorted = Float64Array.from(values).sort();
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / n);
  return { min: sorted[0], mean, median, max: sorted[n - 1], std, count: n };
}

/** The p-th percentile (0–100) by linear interpolation, as numpy's default. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const pos = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

const round = (x: number): number => Math.round(x * 100) / 100;

function kindOf(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return 'list';
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? typeof v : 'mixed';
}

export function columnStats(column: string, values: unknown[]): ColumnStats {
  const present = values.filter((v) => v !== null && v !== undefined);
  const kinds = new Set(present.map(kindOf));
  const kind = kinds.size === 0 ? 'null' : kinds.size === 1 ? [...kinds][0] : 'mixed';
  const unique = kind === 'list' ? new Set(present.map((v) => JSON.stringify(Array.from(v as ArrayLike<unknown>)))).size : new Set(present).size;
  const measure = kind === 'number' ? (present as number[])
    : kind === 'string' ? (present as string[]).map((s) => s.length)
      : kind === 'list' ? present.map((v) => (v as ArrayLike<unknown>).length) : [];
  const s = measure.length ? summarize(measure) : null;
  const words = kind === 'string' ? summarize((present as string[]).map((t) => t.split(/\s+/).filter(Boolean).length)).mean : null;
  return {
    column, kind, count: present.length, nulls: values.length - present.length, unique,
    min: s && round(s.min), mean: s && round(s.mean), median: s && round(s.median), max: s && round(s.max),
    meanWords: words === null ? null : round(words),
  };
}
