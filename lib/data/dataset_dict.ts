/**
 * datasets' `DatasetDict`: named splits (train / validation / test) of `Dataset`s, with the same
 * repr and an HTML view that shows each split's size and first rows.
 */
import { DatasetError, show } from '../errors';
import { displaySymbol, type MimeBundle } from '../display';
import { escapeHtml, type HtmlTableOptions } from '../html';
import { Dataset, type MapOptions, type Row } from './dataset';

export class DatasetDict {
  private readonly splits: Record<string, Dataset>;

  constructor(splits: Record<string, Dataset>) {
    this.splits = { ...splits };
  }

  /** The split's names, in order (train, validation, test first when present). */
  keys(): string[] {
    return Object.keys(this.splits);
  }

  /** A split by name; a missing one is an error listing those there are. */
  get(split: string): Dataset {
    const ds = Object.hasOwn(this.splits, split) ? this.splits[split] : undefined;
    if (!ds) throw new DatasetError(`split ${show(split)} not found; splits: ${show(this.keys())}`, 'pick one of the splits listed');
    return ds;
  }

  has(split: string): boolean {
    return Object.hasOwn(this.splits, split);
  }

  get train(): Dataset { return this.get('train'); }
  get validation(): Dataset { return this.get('validation'); }
  get test(): Dataset { return this.get('test'); }

  entries(): Array<[string, Dataset]> {
    return Object.entries(this.splits);
  }

  /** Rows per split, as datasets' `num_rows`. */
  get numRows(): Record<string, number> {
    return Object.fromEntries(this.entries().map(([k, v]) => [k, v.numRows]));
  }

  /** The same operation on every split. */
  map(fn: (rowOrBatch: any, index: number) => Row | void, options: MapOptions = {}): DatasetDict {
    return this.each((ds) => ds.map(fn, options));
  }

  filter(fn: (row: Row, index: number) => boolean): DatasetDict {
    return this.each((ds) => ds.filter(fn));
  }

  shuffle(options: { seed?: number } = {}): DatasetDict {
    return this.each((ds) => ds.shuffle(options));
  }

  removeColumns(names: string | string[]): DatasetDict {
    return this.each((ds) => ds.removeColumns(names));
  }

  private each(fn: (ds: Dataset) => Dataset): DatasetDict {
    return new DatasetDict(Object.fromEntries(this.entries().map(([k, v]) => [k, fn(v)])));
  }

  toString(): string {
    const inner = this.entries().map(([k, v]) => `    ${k}: ${v.toString().split('\n').join('\n    ')}`).join('\n');
    return `DatasetDict({\n${inner}\n})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  /** One section per split: a heading with its size, then its first rows. */
  toHtml(options: HtmlTableOptions = {}): string {
    const parts = this.entries().map(([k, v]) =>
      `<details${k === this.keys()[0] ? ' open' : ''}><summary><b>${escapeHtml(k)}</b>: ${v.numRows} rows × ${v.numColumns} columns</summary>\n${v.toHtml({ maxRows: 5, ...options })}\n</details>`);
    return `<div>\n<p><b>DatasetDict</b> (${this.keys().length} splits)</p>\n${parts.join('\n')}\n</div>`;
  }

  [displaySymbol](): MimeBundle {
    return { 'text/plain': this.toString(), 'text/html': this.toHtml() };
  }
}

export { Dataset };
