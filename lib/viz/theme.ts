/**
 * One look for every figure: a palette, a layout template merged under each figure's own layout,
 * and number rounding so figure JSON is deterministic and diffable.
 */

/** Colour-blind-safe palette (Okabe–Ito), in the order series take them. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000'];

/** Named roles, so "train" and "eval" keep their colours in every figure. */
export const COLORS = {
  train: PALETTE[0],
  eval: PALETTE[1],
  base: '#8C8C8C',
  tuned: PALETTE[0],
  grid: '#E5E5E5',
  text: '#2A2A2A',
};

export const FONT_FAMILY = 'Inter, "Helvetica Neue", Arial, sans-serif';

/** Layout defaults for every figure (a figure's own layout wins key by key, one level deep). */
export const TEMPLATE_LAYOUT: Record<string, unknown> = {
  font: { family: FONT_FAMILY, size: 13, color: COLORS.text },
  colorway: PALETTE,
  paper_bgcolor: '#FFFFFF',
  plot_bgcolor: '#FFFFFF',
  margin: { l: 64, r: 24, t: 56, b: 56 },
  hovermode: 'x unified',
  legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom', xanchor: 'left' },
  xaxis: { gridcolor: COLORS.grid, zeroline: false, linecolor: '#BDBDBD', ticks: 'outside' },
  yaxis: { gridcolor: COLORS.grid, zeroline: false, linecolor: '#BDBDBD', ticks: 'outside' },
  width: 720,
  height: 420,
};

type Dict = Record<string, unknown>;

function isDict(v: unknown): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/** Template under `layout`: nested dicts (font, axes, legend) merge, everything else is replaced. */
export function applyTemplate(layout: Dict): Dict {
  const out: Dict = { ...TEMPLATE_LAYOUT };
  for (const [k, v] of Object.entries(layout)) {
    out[k] = isDict(v) && isDict(out[k]) ? { ...(out[k] as Dict), ...v } : v;
  }
  if (typeof out.title === 'string') out.title = { text: out.title, xref: 'paper', x: 0, xanchor: 'left', font: { size: 17 } };
  return out;
}

/** Rounds every non-integer to `digits` significant digits (typed arrays become plain arrays). */
export function roundNumbers<T>(value: T, digits = 6): T {
  const walk = (v: unknown): unknown => {
    // Integers (counts, steps, byte sizes) stay exact; fractions keep `digits` significant digits.
    if (typeof v === 'number') return Number.isFinite(v) && !Number.isInteger(v) ? Number(v.toPrecision(digits)) : v;
    if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>, (x) => walk(x));
    if (Array.isArray(v)) return v.map(walk);
    if (isDict(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

/** Histogram bins for bar traces: `nbins` equal bins over [min, max] (or of `binWidth`). */
export function binValues(values: ArrayLike<number>, options: { nbins?: number; binWidth?: number; start?: number; end?: number } = {}):
  { x: number[]; counts: number[]; width: number } {
  let lo = options.start ?? Infinity;
  let hi = options.end ?? -Infinity;
  if (options.start === undefined || options.end === undefined) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) continue;
      if (options.start === undefined && v < lo) lo = v;
      if (options.end === undefined && v > hi) hi = v;
    }
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return { x: [], counts: [], width: 1 };
  if (hi === lo) hi = lo + 1;
  const width = options.binWidth ?? (hi - lo) / (options.nbins ?? 40);
  const n = Math.max(1, Math.ceil((hi - lo) / width - 1e-9));
  const counts = new Array<number>(n).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v) || v < lo || v > hi) continue;
    counts[Math.min(n - 1, Math.floor((v - lo) / width))]++;
  }
  return { x: counts.map((_, i) => lo + (i + 0.5) * width), counts, width };
}
