/**
 * The figures the walkthrough needs, each from the data the library already produces:
 * Trainer log history, token lengths per split, ROUGE per model, NF4 errors, byte counts,
 * parameter counts. All share the template in theme.ts.
 */
import { ArgumentError } from '../errors';
import { Figure, type Trace } from './figure';
import { binValues, COLORS, PALETTE } from './theme';

/** One entry of transformers' `state.log_history`. */
export type LogRecord = Record<string, number>;

/** Train loss (logged every `logging_steps`) and eval loss (every `eval_steps`) against the step. */
export function lossCurve(logHistory: LogRecord[], options: { title?: string } = {}): Figure {
  const train = logHistory.filter((e) => typeof e.loss === 'number' && typeof e.step === 'number');
  const evals = logHistory.filter((e) => typeof e.eval_loss === 'number' && typeof e.step === 'number');
  const data: Trace[] = [
    { type: 'scatter', mode: 'lines+markers', name: 'train loss', x: train.map((e) => e.step), y: train.map((e) => e.loss),
      line: { color: COLORS.train, width: 2 }, marker: { size: 5 } },
  ];
  if (evals.length > 0) {
    data.push({ type: 'scatter', mode: 'lines+markers', name: 'eval loss', x: evals.map((e) => e.step), y: evals.map((e) => e.eval_loss),
      line: { color: COLORS.eval, width: 2, dash: 'dot' }, marker: { size: 6, symbol: 'diamond' } });
  }
  return new Figure({
    data,
    layout: { title: options.title ?? 'Training loss', xaxis: { title: { text: 'step' } }, yaxis: { title: { text: 'loss' } } },
  });
}

/** The learning rate per step: from log history (`learning_rate`), or an array indexed by step. */
export function lrSchedule(source: LogRecord[] | ArrayLike<number>, options: { title?: string } = {}): Figure {
  let x: number[];
  let y: number[];
  if (Array.isArray(source) && source.length > 0 && typeof source[0] === 'object') {
    const rows = (source as LogRecord[]).filter((e) => typeof e.learning_rate === 'number');
    x = rows.map((e) => e.step);
    y = rows.map((e) => e.learning_rate);
  } else {
    y = Array.from(source as ArrayLike<number>);
    x = y.map((_, i) => i + 1);
  }
  return new Figure({
    data: [{ type: 'scatter', mode: 'lines', name: 'learning rate', x, y, line: { color: PALETTE[2], width: 2, shape: 'hv' } }],
    layout: { title: options.title ?? 'Learning-rate schedule', xaxis: { title: { text: 'step' } },
      yaxis: { title: { text: 'learning rate' }, exponentformat: 'e' }, hovermode: 'closest' },
  });
}

/** Token counts of one split: the counts themselves, or a tokenized Dataset (its `input_ids` lengths). */
export type SplitLengths = ArrayLike<number> | { column(name: string): unknown[] };

function lengthsOf(v: SplitLengths): number[] {
  if (typeof (v as { column?: unknown }).column === 'function') {
    return (v as { column(name: string): unknown[] }).column('input_ids').map((ids) => (ids as ArrayLike<number>).length);
  }
  return Array.from(v as ArrayLike<number>);
}

/**
 * Token counts per split as overlaid histograms, with the max length the rows are cut at.
 * Takes `{ train: lengths, … }`, `{ train: tokenizedDataset, … }` or a tokenized DatasetDict.
 */
export function tokenLengthHistogram(source: Record<string, SplitLengths> | { entries(): Array<[string, SplitLengths]> },
  options: { maxLength?: number; binWidth?: number; title?: string } = {}): Figure {
  const pairs = typeof (source as { entries?: unknown }).entries === 'function'
    ? (source as { entries(): Array<[string, SplitLengths]> }).entries() : Object.entries(source as Record<string, SplitLengths>);
  const lengthsBySplit = Object.fromEntries(pairs.map(([k, v]) => [k, lengthsOf(v)]));
  const all = Object.values(lengthsBySplit).flat();
  if (all.length === 0) throw new ArgumentError('`tokenLengthHistogram` got no lengths.', 'Pass { train: [...], validation: [...] } with token counts per row, or tokenized datasets.');
  const lo = all.reduce((a, b) => Math.min(a, b), Infinity);
  const hi = all.reduce((a, b) => Math.max(a, b), -Infinity);
  const binWidth = options.binWidth ?? Math.max(1, Math.ceil((hi - lo + 1) / 40));
  const start = Math.floor(lo / binWidth) * binWidth;
  const data: Trace[] = Object.entries(lengthsBySplit).map(([split, lengths], i) => {
    const bins = binValues(lengths, { binWidth, start, end: hi + 1 }) // integer counts: [start, hi + 1) so each bin holds binWidth values;
    return { type: 'bar', name: `${split} (${lengths.length})`, x: bins.x, y: bins.counts, width: bins.width,
      marker: { color: PALETTE[i % PALETTE.length] }, opacity: 0.6 };
  });
  const shapes = options.maxLength === undefined ? [] : [{ type: 'line', xref: 'x', yref: 'paper', x0: options.maxLength, x1: options.maxLength,
    y0: 0, y1: 1, line: { color: COLORS.text, width: 1.5, dash: 'dash' } }];
  const annotations = options.maxLength === undefined ? [] : [{ x: options.maxLength, y: 1, xref: 'x', yref: 'paper', text: `max length ${options.maxLength}`,
    showarrow: false, xanchor: 'right', yanchor: 'bottom' }];
  return new Figure({
    data,
    layout: { title: options.title ?? 'Tokens per example', barmode: 'overlay', bargap: 0, shapes, annotations, hovermode: 'closest',
      xaxis: { title: { text: 'tokens' } }, yaxis: { title: { text: 'examples' } } },
  });
}

/** Anything that maps model name → { rouge1, rouge2, … } (a ComparisonResult has `.rouge`). */
export type RougeByModel = Record<string, Record<string, number>>;

/** Grouped bars: one group per ROUGE type, one bar per model or run. */
export function rougeBars(source: RougeByModel | { rouge: RougeByModel }, options: { title?: string } = {}): Figure {
  const byModel = 'rouge' in source && typeof (source as { rouge: unknown }).rouge === 'object' && !('rouge1' in (source as object))
    ? (source as { rouge: RougeByModel }).rouge : source as RougeByModel;
  const models = Object.keys(byModel);
  if (models.length === 0) throw new ArgumentError('`rougeBars` got no models.', 'Pass { "ORIGINAL MODEL": {...}, "PEFT MODEL": {...} } or a compareSummaries result.');
  const metrics = Object.keys(byModel[models[0]]);
  const data: Trace[] = models.map((m, i) => ({
    type: 'bar', name: m, x: metrics, y: metrics.map((k) => byModel[m][k]),
    text: metrics.map((k) => byModel[m][k].toFixed(3)), textposition: 'outside',
    marker: { color: models.length === 2 && i === 0 ? COLORS.base : PALETTE[(models.length === 2 ? 0 : i) % PALETTE.length] },
  }));
  return new Figure({
    data,
    layout: { title: options.title ?? 'ROUGE by model', barmode: 'group', hovermode: 'closest',
      yaxis: { title: { text: 'F-measure' }, rangemode: 'tozero' }, xaxis: { title: { text: '' } } },
  });
}

/** Histogram of quantization errors (dequantized − original), one trace per label. */
export function quantErrorHistogram(errors: ArrayLike<number> | Record<string, ArrayLike<number>>, options: { nbins?: number; title?: string } = {}): Figure {
  const sets: Record<string, ArrayLike<number>> = typeof (errors as ArrayLike<number>).length === 'number'
    ? { NF4: errors as ArrayLike<number> } : errors as Record<string, ArrayLike<number>>;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of Object.values(sets)) for (let i = 0; i < v.length; i++) { if (v[i] < lo) lo = v[i]; if (v[i] > hi) hi = v[i]; }
  const data: Trace[] = Object.entries(sets).map(([label, v], i) => {
    const bins = binValues(v, { nbins: options.nbins ?? 60, start: lo, end: hi });
    let abs = 0;
    for (let k = 0; k < v.length; k++) abs += Math.abs(v[k]);
    return { type: 'bar', name: `${label} (mean |err| ${(abs / Math.max(1, v.length)).toPrecision(3)})`, x: bins.x, y: bins.counts,
      width: bins.width, marker: { color: PALETTE[i % PALETTE.length] }, opacity: 0.65 };
  });
  return new Figure({
    data,
    layout: { title: options.title ?? 'Quantization error', barmode: 'overlay', bargap: 0, hovermode: 'closest',
      xaxis: { title: { text: 'dequantized − original' } }, yaxis: { title: { text: 'weights' } } },
  });
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[u]}`;
}

/** Bytes of the weights stored as fp32, bf16, NF4 and NF4 with double quantization. */
export function memoryFootprintBars(bytes: { fp32?: number; bf16?: number; nf4?: number; nf4dq?: number } & Record<string, number | undefined>,
  options: { title?: string } = {}): Figure {
  const labels: Record<string, string> = { fp32: 'fp32', bf16: 'bf16', nf4: 'NF4', nf4dq: 'NF4 + double quant' };
  const entries = Object.entries(bytes).filter((e): e is [string, number] => typeof e[1] === 'number');
  const largest = entries.reduce((a, [, v]) => Math.max(a, v), 0);
  const ref = bytes.fp32 ?? largest;
  // MiB up to 10 GiB, then GiB (an 8B model in fp32 is ≈ 30 GiB).
  const [unit, scale] = largest >= 10 * 2 ** 30 ? ['GiB', 2 ** 30] : ['MiB', 2 ** 20];
  return new Figure({
    data: [{ type: 'bar', x: entries.map(([k]) => labels[k] ?? k), y: entries.map(([, v]) => v / scale), name: 'weights',
      text: entries.map(([, v]) => `${formatBytes(v)} (${((100 * v) / ref).toFixed(1)}%)`), textposition: 'outside',
      marker: { color: entries.map((_, i) => PALETTE[i % PALETTE.length]) } }],
    layout: { title: options.title ?? 'Weight memory', hovermode: 'closest', showlegend: false,
      yaxis: { title: { text: unit }, rangemode: 'tozero' } },
  });
}

/** Trainable (LoRA) against frozen parameters, as a donut with PEFT's trainable%. */
export function trainableParamsChart(counts: { trainable: number; frozen: number }, options: { title?: string } = {}): Figure {
  const total = counts.trainable + counts.frozen;
  const pct = total > 0 ? (100 * counts.trainable) / total : 0;
  return new Figure({
    data: [{ type: 'pie', hole: 0.55, sort: false, direction: 'clockwise', labels: ['trainable', 'frozen'],
      values: [counts.trainable, counts.frozen], marker: { colors: [PALETTE[3], COLORS.base] }, textinfo: 'label+value',
      hovertemplate: '%{label}: %{value:,} (%{percent})<extra></extra>' }],
    layout: { title: options.title ?? 'Trainable parameters', hovermode: false, showlegend: false,
      annotations: [{ text: `trainable%<br><b>${pct.toFixed(4)}</b>`, showarrow: false, x: 0.5, y: 0.5, xref: 'paper', yref: 'paper', font: { size: 16 } }],
      width: 480, height: 420 },
  });
}
