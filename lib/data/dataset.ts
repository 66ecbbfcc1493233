/**
 * Hugging Face datasets' `Dataset` for notebooks: an immutable table of rows with `map`, `filter`,
 * `shuffle`, `select`, `trainTestSplit`, `sort`, exports, statistics and an HTML view.
 *
 * Storage: one plain JS array per column. Rows after tokenization hold arrays (`input_ids`,
 * `attention_mask`), which a danfo DataFrame cannot hold as cells, and every operation here is a
 * gather by row indices, which plain arrays do without copying the cells. `toFrame()` gives the
 * danfojs-node DataFrame of the same rows (built on first call, kept): scalar columns as they
 * are, list cells as JSON text. `Dataset.fromFrame(df)` goes the other way.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArgumentError, DatasetError, show } from '../errors';
import { displaySymbol, type MimeBundle } from '../display';
import { htmlTable, type HtmlTableOptions } from '../html';
import { permutation } from '../random';
import { columnStats } from './stats';
import { toCsvText, toJsonlText } from './formats';

export type Row = Record<string, unknown>;
export type Columns = Record<string, unknown[]>;

export interface MapOptions {
  /** Call `fn` with a batch `{ column: values[] }` instead of one row. */
  batched?: boolean;
  /** Rows per batch when `batched` (default 1000, as datasets). */
  batchSize?: number;
  /** Columns dropped after `fn` ran (`fn` still sees them). */
  removeColumns?: string | string[];
}

export class Dataset {
  private readonly cols: Columns;
  private readonly names: string[];
  private frame: unknown;
  readonly numRows: number;

  /** From columns of equal length (datasets' `Dataset.from_dict`). */
  constructor(columns: Columns) {
    this.names = Object.keys(columns);
    const lengths = this.names.map((n) => columns[n].length);
    if (lengths.some((l) => l !== lengths[0])) {
      throw new DatasetError(`columns have different lengths: ${this.names.map((n, i) => `${n}=${lengths[i]}`).join(', ')}`, 'every column needs one value per row');
    }
    this.cols = columns;
    this.numRows = lengths[0] ?? 0;
  }

  static fromDict(columns: Columns): Dataset {
    return new Dataset(columns);
  }

  /** From row objects (datasets' `Dataset.from_list`); columns are the union of the rows' keys, missing cells null. */
  static fromList(rows: Row[]): Dataset {
    const names: string[] = [];
    const seen = new Set<string>();
    for (const row of rows) for (const k of Object.keys(row)) if (!seen.has(k)) { seen.add(k); names.push(k); }
    return new Dataset(Object.fromEntries(names.map((n) => [n, rows.map((r) => (n in r ? r[n] : null))])));
  }

  /** From a danfojs DataFrame (its columns and values). */
  static fromFrame(df: { columns: string[]; values: unknown[][] }): Dataset {
    const values = df.values;
    return new Dataset(Object.fromEntries(df.columns.map((c, j) => [c, values.map((r) => r[j])])));
  }

  get length(): number { return this.numRows; }
  get columnNames(): string[] { return [...this.names]; }
  /** datasets' `num_columns`. */
  get numColumns(): number { return this.names.length; }

  /** Each column's kind as datasets' `features` shows it: 'string', 'int64', 'float64', 'bool', 'list', 'null', 'mixed'. */
  get features(): Record<string, string> {
    return Object.fromEntries(this.names.map((n) => [n, featureKind(this.cols[n])]));
  }

  /** The first `n` rows (default 5), as pandas' `head`. */
  head(n = 5): Dataset {
    return this.select([...Array(Math.min(n, this.numRows)).keys()]);
  }

  /** Row `i` as a plain object (negative counts from the end, as Python). */
  get(i: number): Row {
    const k = i < 0 ? this.numRows + i : i;
    if (!Number.isInteger(k) || k < 0 || k >= this.numRows) {
      throw new ArgumentError(`row index ${show(i)} out of range for a dataset of ${this.numRows} rows`, `use 0 … ${this.numRows - 1} or -1 … -${this.numRows}`);
    }
    return Object.fromEntries(this.names.map((n) => [n, this.cols[n][k]]));
  }

  /** All values of one column (a copy), as datasets' `ds["dialogue"]`. */
  column(name: string): unknown[] {
    return [...this.col(name)];
  }

  *[Symbol.iterator](): IterableIterator<Row> {
    for (let i = 0; i < this.numRows; i++) yield this.get(i);
  }

  toList(): Row[] {
    return [...this];
  }

  /** Rows `indices`, in that order (datasets' `select`). */
  select(indices: Iterable<number>): Dataset {
    const idx = [...indices];
    for (const i of idx) {
      if (!Number.isInteger(i) || i < 0 || i >= this.numRows) {
        throw new ArgumentError(`\`indices\` holds ${show(i)}, out of range for ${this.numRows} rows`, 'indices are 0-based row numbers');
      }
    }
    return new Dataset(Object.fromEntries(this.names.map((n) => [n, idx.map((i) => this.cols[n][i])])));
  }

  /** The rows in a seeded random order (mulberry32 + Fisher–Yates: see rng.ts). Same seed, same order. */
  shuffle(options: { seed?: number } = {}): Dataset {
    return this.select(permutation(this.numRows, options.seed ?? 42));
  }

  /** Rows for which `fn(row, index)` is true. */
  filter(fn: (row: Row, index: number) => boolean): Dataset {
    const keep: number[] = [];
    for (let i = 0; i < this.numRows; i++) if (fn(this.get(i), i)) keep.push(i);
    return this.select(keep);
  }

  /** Rows ordered by one column (stable; numbers numerically, text by code point). */
  sort(column: string, options: { reverse?: boolean } = {}): Dataset {
    const values = this.col(column);
    const cmp = (a: unknown, b: unknown): number => (a === b ? 0 : a === null || a === undefined ? 1 : b === null || b === undefined ? -1 : (a as number) < (b as number) ? -1 : 1);
    const idx = values.map((_, i) => i).sort((i, j) => (options.reverse ? -cmp(values[i], values[j]) : cmp(values[i], values[j])) || i - j);
    return this.select(idx);
  }

  /**
   * datasets' `map`: `fn(row, index)` returns columns to add or replace; with `batched`,
   * `fn(batch)` gets `{ column: values[] }` for `batchSize` rows and returns the same shape. A
   * batched `fn` may return a different number of rows only when every input column is removed.
   */
  map(fn: (rowOrBatch: any, index: number) => Row | void, options: MapOptions = {}): Dataset {
    const remove = typeof options.removeColumns === 'string' ? [options.removeColumns] : options.removeColumns ?? [];
    for (const r of remove) this.col(r);
    const out: Columns = {};
    const kept = this.names.filter((n) => !remove.includes(n));
    if (!options.batched) {
      for (let i = 0; i < this.numRows; i++) {
        const update = fn(this.get(i), i) ?? {};
        for (const [k, v] of Object.entries(update)) (out[k] ??= new Array(this.numRows).fill(null))[i] = v;
      }
      return new Dataset(mergeColumns(kept, this.cols, out));
    }
    const size = options.batchSize ?? 1000;
    if (!Number.isInteger(size) || size < 1) throw new ArgumentError(`\`batchSize\` must be a positive integer, got ${show(size)}`);
    const parts: Columns[] = [];
    for (let start = 0; start < this.numRows; start += size) {
      const end = Math.min(start + size, this.numRows);
      const batch = Object.fromEntries(this.names.map((n) => [n, this.cols[n].slice(start, end)]));
      const result = (fn(batch, start) ?? batch) as Columns;
      const lengths = Object.values(result).map((v) => v.length);
      const n = lengths[0] ?? end - start;
      if (lengths.some((l) => l !== n)) throw new DatasetError(`\`map\` batch at row ${start}: returned columns of different lengths (${lengths.join(', ')})`);
      if (n !== end - start && kept.some((k) => !(k in result))) {
        throw new DatasetError(`\`map\` batch at row ${start} returned ${n} rows for ${end - start}, but columns ${show(kept.filter((k) => !(k in result)))} are kept`, 'pass `removeColumns` with every input column when a batch changes the row count');
      }
      parts.push(mergeColumns(kept, batch, result));
    }
    if (parts.length === 0) return new Dataset(Object.fromEntries(kept.map((k) => [k, []])));
    return new Dataset(Object.fromEntries(Object.keys(parts[0]).map((k) => [k, parts.flatMap((p) => p[k] ?? [])])));
  }

  removeColumns(names: string | string[]): Dataset {
    const drop = typeof names === 'string' ? [names] : names;
    for (const d of drop) this.col(d);
    return new Dataset(Object.fromEntries(this.names.filter((n) => !drop.includes(n)).map((n) => [n, this.cols[n]])));
  }

  renameColumn(from: string, to: string): Dataset {
    this.col(from);
    return new Dataset(Object.fromEntries(this.names.map((n) => [n === from ? to : n, this.cols[n]])));
  }

  /** datasets' `train_test_split`: shuffled (unless `shuffle: false`), `testSize` a fraction or a row count. */
  trainTestSplit(options: { testSize: number; seed?: number; shuffle?: boolean }): import('./dataset_dict').DatasetDict {
    const { testSize } = options;
    const nTest = testSize > 0 && testSize < 1 ? Math.ceil(testSize * this.numRows) : testSize;
    if (!Number.isInteger(nTest) || nTest < 1 || nTest >= this.numRows) {
      throw new ArgumentError(`\`testSize\`=${show(testSize)} gives ${nTest} test rows of ${this.numRows}`, 'pass a fraction in (0, 1) or a row count between 1 and numRows - 1');
    }
    const order = options.shuffle === false ? [...Array(this.numRows).keys()] : permutation(this.numRows, options.seed ?? 42);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { DatasetDict } = require('./dataset_dict') as typeof import('./dataset_dict');
    return new DatasetDict({ train: this.select(order.slice(0, this.numRows - nTest)), test: this.select(order.slice(this.numRows - nTest)) });
  }

  /** The danfojs-node DataFrame of these rows (list cells as JSON text); built once. */
  toFrame(): any {
    if (!this.frame) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('@tensorflow/tfjs').enableProdMode();
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const dfd = require('danfojs-node');
      const data = Object.fromEntries(this.names.map((n) => [n, this.cols[n].map((v) => (v !== null && typeof v === 'object' ? JSON.stringify(Array.from(v as ArrayLike<unknown>)) : v))]));
      this.frame = new dfd.DataFrame(data, { columns: this.names });
    }
    return this.frame;
  }

  /** One JSON object per line (datasets' `to_json(lines=True)`). */
  toJsonl(file: string): void {
    writeAtomic(file, toJsonlText(this.names, this.toList()));
  }

  /** RFC 4180 CSV with a header row (papaparse's quoting; list cells as JSON text). */
  toCsv(file: string): void {
    writeAtomic(file, toCsvText(this.names, this.toList()));
  }

  /** One row of statistics per column: type, count, nulls, unique values, and lengths of text and lists. */
  describe(): Dataset {
    return Dataset.fromList(this.names.map((n) => ({ ...columnStats(n, this.cols[n]) })));
  }

  /** datasets' repr. */
  toString(): string {
    return `Dataset({\n    features: [${this.names.map((n) => `'${n}'`).join(', ')}],\n    num_rows: ${this.numRows}\n})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  /** The HTML table of the first rows; options as htmlTable's. */
  toHtml(options: HtmlTableOptions = {}): string {
    const shown = Math.min(this.numRows, options.maxRows ?? 10);
    const rows = Array.from({ length: shown }, (_, i) => { const row = this.get(i); return this.names.map((n) => row[n]); });
    return htmlTable(this.names, rows, { ...options, total: this.numRows });
  }

  [displaySymbol](): MimeBundle {
    return { 'text/plain': this.toString(), 'text/html': this.toHtml() };
  }

  private col(name: string): unknown[] {
    const values = this.cols[name];
    if (!values || !Object.hasOwn(this.cols, name)) {
      throw new DatasetError(`column ${show(name)} is not in the dataset; columns: ${show(this.names)}`, 'check the spelling, or add it with `map`');
    }
    return values;
  }
}

function featureKind(values: unknown[]): string {
  const kinds = new Set(values.filter((v) => v !== null && v !== undefined).map((v) =>
    typeof v === 'number' ? (Number.isInteger(v) ? 'int64' : 'float64') : typeof v === 'boolean' ? 'bool' : typeof v === 'string' ? 'string'
      : Array.isArray(v) || ArrayBuffer.isView(v) ? 'list' : 'mixed'));
  if (kinds.size === 2 && kinds.has('int64') && kinds.has('float64')) return 'float64';
  return kinds.size === 0 ? 'null' : kinds.size === 1 ? [...kinds][0] : 'mixed';
}

/** Columns after `map`: the kept input columns (replaced where `fn` returned them), then `fn`'s new ones. */
function mergeColumns(kept: string[], input: Columns, output: Columns): Columns {
  const merged: Columns = {};
  for (const k of kept) merged[k] = k in output ? output[k] : input[k];
  for (const [k, v] of Object.entries(output)) if (!(k in merged)) merged[k] = v;
  return merged;
}

function writeAtomic(file: string, text: string): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}
