/**
 * Human vs model summaries, as the walkthrough's last step: a table of the summaries, ROUGE per
 * model, and the absolute improvement of each model over the first one, printed the way the
 * walkthrough prints them. Works for any number of models or runs (r=8 vs r=32, NF4 vs FP4).
 *
 * ```ts
 * const cmp = compareSummaries({ human, models: { 'ORIGINAL MODEL': base, 'PEFT MODEL': peft } });
 * cmp.print();                 // ORIGINAL MODEL: {...} / PEFT MODEL: {...} / Absolute percentage improvement …
 * cmp;                         // notebook: the summaries table and ROUGE table
 * rougeBars(cmp).show();       // or cmp.figure()
 * ```
 */
import { ArgumentError, show } from '../errors';
import { displaySymbol, type MimeBundle } from '../display';
import { escapeHtml, htmlTable } from '../html';
import { textTable } from '../viz/table';
import { rougeBars } from '../viz/charts';
import { Figure } from '../viz/figure';
import { PALETTE } from '../viz/theme';
import { rouge, DEFAULT_ROUGE_TYPES, type RougeComputeArgs } from './rouge';

export interface CompareSummariesArgs {
  dialogues?: string[];
  /** The human (reference) summaries: one per row, or several per row. */
  human: (string | string[])[];
  /** Model or run name → its summaries, in row order. The first is the baseline for improvements. */
  models: Record<string, string[]>;
  /** Default true, as the walkthrough (`use_stemmer=True`). */
  useStemmer?: boolean;
  rougeTypes?: string[];
  aggregator?: RougeComputeArgs['aggregator'];
  seed?: number;
}

/** 'ORIGINAL MODEL' → 'original_model_summaries' (the walkthrough's column names). */
export function summaryColumnName(model: string): string {
  return `${model.trim().toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '')}_summaries`;
}

/** Python's repr of a float: shortest round-trip digits, `1.0` for integers, `1e-05` below 1e-4. */
export function pyFloat(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return v.toFixed(1);
  if (v !== 0 && (Math.abs(v) < 1e-4 || Math.abs(v) >= 1e16)) {
    return v.toExponential().replace(/e([+-])(\d)$/, (_m, sign: string, d: string) => `e${sign}0${d}`);
  }
  return String(v);
}

/** A Python-style repr of a dict of floats: {'rouge1': 0.2895, …}. */
function pyDict(values: Record<string, number>): string {
  return `{${Object.entries(values).map(([k, v]) => `'${k}': ${pyFloat(v)}`).join(', ')}}`;
}

export class ComparisonResult {
  readonly dialogues: string[] | undefined;
  readonly human: (string | string[])[];
  readonly models: Record<string, string[]>;
  /** Model name → { rouge1, rouge2, rougeL, rougeLsum } (aggregated F). */
  readonly rouge: Record<string, Record<string, number>>;
  /** Model name → per-row F per type. */
  readonly perSample: Record<string, Record<string, number[]>>;

  constructor(args: CompareSummariesArgs) {
    const names = Object.keys(args.models);
    if (names.length === 0) throw new ArgumentError('`models` is empty.', "Pass { 'ORIGINAL MODEL': [...], 'PEFT MODEL': [...] }.");
    for (const name of names) {
      if (args.models[name].length !== args.human.length) {
        throw new ArgumentError(`\`models[${show(name)}]\` has ${args.models[name].length} summaries but \`human\` has ${args.human.length}.`,
          'Generate one summary per human summary, in the same order.');
      }
    }
    if (args.dialogues && args.dialogues.length !== args.human.length) {
      throw new ArgumentError(`\`dialogues\` has ${args.dialogues.length} rows but \`human\` has ${args.human.length}.`, 'Pass the dialogues the summaries were made from, in order.');
    }
    this.dialogues = args.dialogues;
    this.human = args.human;
    this.models = args.models;
    const common = { references: args.human, useStemmer: args.useStemmer ?? true, rougeTypes: args.rougeTypes ?? DEFAULT_ROUGE_TYPES };
    this.rouge = {};
    this.perSample = {};
    for (const name of names) {
      this.rouge[name] = rouge.compute({ ...common, predictions: args.models[name], aggregator: args.aggregator, seed: args.seed });
      this.perSample[name] = rouge.compute({ ...common, predictions: args.models[name], useAggregator: false });
    }
  }

  get modelNames(): string[] {
    return Object.keys(this.models);
  }

  /** Absolute improvement (a fraction: 0.132 = 13.20 points) of `model` over `baseline` per metric. */
  improvement(model = this.modelNames.at(-1)!, baseline = this.modelNames[0]): Record<string, number> {
    for (const m of [model, baseline]) {
      if (!(m in this.rouge)) throw new ArgumentError(`No model named ${show(m)}.`, `Models here: ${this.modelNames.map((n) => show(n)).join(', ')}.`);
    }
    return Object.fromEntries(Object.keys(this.rouge[model]).map((k) => [k, this.rouge[model][k] - this.rouge[baseline][k]]));
  }

  /** The walkthrough's printout: each model's dict, then each later model's improvement over the first. */
  report(): string {
    const lines: string[] = [];
    for (const name of this.modelNames) lines.push(`${name}:`, pyDict(this.rouge[name]));
    const [baseline, ...others] = this.modelNames;
    for (const other of others) {
      lines.push(`Absolute percentage improvement of ${other} over ${baseline}`);
      for (const [k, v] of Object.entries(this.improvement(other, baseline))) lines.push(`${k}: ${(v * 100).toFixed(2)}%`);
    }
    return lines.join('\n');
  }

  print(): void {
    console.log(this.report());
  }

  toString(): string {
    return this.report();
  }

  /** Column names and rows of the summaries table (dialogue first when given). */
  table(): { columns: string[]; rows: string[][] } {
    const columns = [...(this.dialogues ? ['dialogue'] : []), 'human_baseline_summaries', ...this.modelNames.map(summaryColumnName)];
    const rows = this.human.map((h, i) => [
      ...(this.dialogues ? [this.dialogues[i]] : []),
      Array.isArray(h) ? h.join('\n— ') : h,
      ...this.modelNames.map((m) => this.models[m][i]),
    ]);
    return { columns, rows };
  }

  /** The summaries as a danfo DataFrame (loads danfojs-node on first use). */
  frame(): unknown {
    const { columns, rows } = this.table();
    const dfd = require('danfojs-node') as { DataFrame: new (data: unknown, options?: unknown) => unknown };
    return new dfd.DataFrame(rows, { columns });
  }

  /** ROUGE per model as rows (model, rouge1, …), for tables and frames. */
  rougeTable(): { columns: string[]; rows: (string | number)[][] } {
    const metrics = Object.keys(this.rouge[this.modelNames[0]]);
    return { columns: ['model', ...metrics], rows: this.modelNames.map((m) => [m, ...metrics.map((k) => this.rouge[m][k])]) };
  }

  /** Grouped ROUGE bars, one group per metric. */
  figure(options: { title?: string } = {}): Figure {
    return rougeBars(this.rouge, options);
  }

  /** Improvement of every later model over the first, in percentage points per metric. */
  improvementFigure(options: { title?: string } = {}): Figure {
    const [baseline, ...others] = this.modelNames;
    const data = others.map((m, i) => {
      const imp = this.improvement(m, baseline);
      const metrics = Object.keys(imp);
      return { type: 'bar', name: m, x: metrics, y: metrics.map((k) => 100 * imp[k]),
        text: metrics.map((k) => `${(100 * imp[k]).toFixed(2)}%`), textposition: 'outside', marker: { color: PALETTE[i % PALETTE.length] } };
    });
    return new Figure({
      data,
      layout: { title: options.title ?? `Absolute improvement over ${baseline}`, barmode: 'group', hovermode: 'closest',
        yaxis: { title: { text: 'percentage points' }, zeroline: true, zerolinecolor: '#8C8C8C' } },
    });
  }

  [displaySymbol](): MimeBundle {
    const summaries = this.table();
    const scores = this.rougeTable();
    const html = `<div class="qlora-ts-comparison">\n${htmlTable(summaries.columns, summaries.rows, { maxChars: 400 })}\n` +
      `${htmlTable(scores.columns, scores.rows, { index: false, caption: 'ROUGE (F-measure)' })}\n` +
      `<pre>${escapeHtml(this.report())}</pre>\n</div>`;
    const text = `${textTable(summaries.columns, summaries.rows)}\n\n${this.report()}`;
    return { 'text/html': html, 'text/plain': text };
  }
}

/** Builds the comparison: ROUGE of each model against the human summaries, table, printout, figures. */
export function compareSummaries(args: CompareSummariesArgs): ComparisonResult {
  return new ComparisonResult(args);
}
