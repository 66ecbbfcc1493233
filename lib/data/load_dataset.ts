/**
 * datasets' `load_dataset` for local data: a folder in one of the layouts Hugging Face data sets
 * come in, a single data file, or by name the data set the project ships. Nothing is downloaded.
 *
 * Layouts looked for, in this order (`<split>` is train / validation / test or a synonym such as
 * valid, val, dev, eval, testing; shard names as `train-00000-of-00002.parquet` join in order):
 *   1. `<dir>/data/<split>[-NNNNN-of-NNNNN].{parquet,csv,json,jsonl}`
 *   2. `<dir>/<split>[-NNNNN-of-NNNNN].{parquet,csv,json,jsonl}`
 *   3. `<dir>/<split>/*.{parquet,csv,json,jsonl}` (one folder per split)
 *   4. a single data file, or a folder with other data files, which become the `train` split.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DatasetError, show } from '../errors';
import { EMBEDDED_DATA_DIR } from '../embedded';
import { Dataset, type Row } from './dataset';
import { DatasetDict } from './dataset_dict';
import { readRows } from './formats';

/** Names that load the embedded DialogSum-style set (made by scripts/data/make-dialogsum.ts). */
export const EMBEDDED_DATASET_NAMES = ['embedded', 'qlora-ts/dialogsum', 'neil-code/dialogsum-test', 'dialogsum'];

const EXTENSIONS = ['.parquet', '.csv', '.jsonl', '.json'];
const SPLIT_SYNONYMS: Record<string, string> = {
  train: 'train', training: 'train',
  validation: 'validation', valid: 'validation', val: 'validation', dev: 'validation',
  test: 'test', testing: 'test', eval: 'test', evaluation: 'test',
};
const SPLIT_ORDER = ['train', 'validation', 'test'];
const LAYOUTS = [
  'data/<split>[-NNNNN-of-NNNNN].{parquet,csv,json,jsonl}',
  '<split>[-NNNNN-of-NNNNN].{parquet,csv,json,jsonl}',
  '<split>/*.{parquet,csv,json,jsonl}',
  'any .parquet/.csv/.json/.jsonl files (as the train split)',
];

export interface LoadDatasetOptions {
  /** Return only this split (a `Dataset`) instead of the `DatasetDict`. */
  split?: string;
  /**
   * With a builder name ('csv', 'json', 'parquet') as datasets does: the files, one path or list
   * (the `train` split) or `{ split: path | paths }`.
   */
  dataFiles?: string | string[] | Record<string, string | string[]>;
}

const BUILDERS = ['csv', 'json', 'parquet'];

function builderFiles(builder: string, dataFiles: LoadDatasetOptions['dataFiles']): Record<string, string[]> {
  if (dataFiles === undefined) {
    throw new DatasetError(`loadDataset(${show(builder)}) needs \`dataFiles\``, `e.g. loadDataset('${builder}', { dataFiles: { train: 'train.${builder === 'json' ? 'jsonl' : builder}' } })`);
  }
  const spec = typeof dataFiles === 'string' || Array.isArray(dataFiles) ? { train: dataFiles } : dataFiles;
  const out: Record<string, string[]> = {};
  for (const [split, files] of Object.entries(spec)) {
    out[split] = (typeof files === 'string' ? [files] : files).map((f) => path.resolve(f));
    for (const f of out[split]) if (!fs.existsSync(f)) throw new DatasetError(`\`dataFiles\` (${split}): ${f}: no such file`, 'paths are relative to the working directory');
  }
  return out;
}

const isData = (f: string): boolean => EXTENSIONS.some((e) => f.endsWith(e)) && !f.startsWith('.');

/** The split a file name stands for: `train-00000-of-00001.parquet` → train; `dev.csv` → validation. */
export function splitOfFile(file: string): string | undefined {
  const stem = path.basename(file).replace(/\.(parquet|csv|jsonl|json)$/, '').replace(/-\d{5}-of-\d{5}$/, '');
  return SPLIT_SYNONYMS[stem.toLowerCase()];
}

/** Data files grouped by split, following the layouts above; empty when none applies. */
export function findSplitFiles(dir: string): Record<string, string[]> {
  const list = (d: string): string[] => (fs.existsSync(d) && fs.statSync(d).isDirectory() ? fs.readdirSync(d).sort() : []);
  const bySplit = (d: string): Record<string, string[]> => {
    const out: Record<string, string[]> = {};
    for (const f of list(d).filter(isData)) {
      const split = splitOfFile(f);
      if (split) (out[split] ??= []).push(path.join(d, f));
    }
    return out;
  };
  for (const d of [path.join(dir, 'data'), dir]) {
    const found = bySplit(d);
    if (Object.keys(found).length) return found;
  }
  const folders: Record<string, string[]> = {};
  for (const f of list(dir)) {
    const split = SPLIT_SYNONYMS[f.toLowerCase()];
    const files = split ? list(path.join(dir, f)).filter(isData).map((x) => path.join(dir, f, x)) : [];
    if (files.length) (folders[split!] ??= []).push(...files);
  }
  if (Object.keys(folders).length) return folders;
  const loose = [...list(path.join(dir, 'data')).filter(isData).map((f) => path.join(dir, 'data', f)), ...list(dir).filter(isData).map((f) => path.join(dir, f))];
  return loose.length ? { train: loose } : {};
}

function ordered(splits: Record<string, string[]>): Array<[string, string[]]> {
  const rank = (s: string): number => (SPLIT_ORDER.includes(s) ? SPLIT_ORDER.indexOf(s) : SPLIT_ORDER.length);
  return Object.entries(splits).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

/** The folder a name or path means: an embedded name, or a local path (relative to the working directory). */
function resolveSource(pathOrName: string): string {
  if (EMBEDDED_DATASET_NAMES.includes(pathOrName)) return EMBEDDED_DATA_DIR;
  const local = path.resolve(pathOrName);
  if (fs.existsSync(local)) return local;
  throw new DatasetError(`${show(pathOrName)}: no such file or folder (${local}), and not an embedded data set name`,
    `pass a local folder or data file, or one of ${show(EMBEDDED_DATASET_NAMES)}; qlora-ts does not download from the Hub`);
}

/**
 * `await loadDataset('neil-code/dialogsum-test')` → DatasetDict { train, validation, test };
 * `await loadDataset(dir, { split: 'test' })` → that split's Dataset.
 */
export async function loadDataset(pathOrName: string, options: { split: string }): Promise<Dataset>;
export async function loadDataset(pathOrName: string, options?: Omit<LoadDatasetOptions, 'split'>): Promise<DatasetDict>;
export async function loadDataset(pathOrName: string, options: LoadDatasetOptions = {}): Promise<Dataset | DatasetDict> {
  const builder = BUILDERS.includes(pathOrName) && !fs.existsSync(pathOrName);
  const source = builder ? pathOrName : resolveSource(pathOrName);
  if (!builder && fs.existsSync(path.join(source, 'dataset_dict.json'))) {
    throw new DatasetError(`${source}: dataset_dict.json marks a folder written by datasets' save_to_disk (Arrow files), which qlora-ts does not read`,
      "in Python, export each split: ds['train'].to_parquet('data/train-00000-of-00001.parquet') (or to_json / to_csv)");
  }
  const splits = builder ? builderFiles(pathOrName, options.dataFiles) : fs.statSync(source).isDirectory() ? findSplitFiles(source) : isData(source) ? { [splitOfFile(source) ?? 'train']: [source] } : {};
  if (Object.keys(splits).length === 0) {
    throw new DatasetError(`${source}: no data files found; looked for:\n${LAYOUTS.map((l) => `  ${l}`).join('\n')}`,
      'Hugging Face data sets keep splits as data/train-00000-of-00001.parquet or train.csv / train.jsonl; put the files in one of these layouts');
  }
  const wanted = options.split ? (SPLIT_SYNONYMS[options.split] ?? options.split) : undefined;
  if (wanted && !splits[wanted]) {
    throw new DatasetError(`${source}: split ${show(options.split)} not found; splits: ${show(ordered(splits).map(([s]) => s))}`, 'pick one of the splits listed');
  }
  const dict: Record<string, Dataset> = {};
  for (const [split, files] of ordered(splits)) {
    if (wanted && split !== wanted) continue;
    const rows: Row[] = [];
    for (const f of files) rows.push(...(await readRows(f)));
    dict[split] = Dataset.fromList(rows);
  }
  return wanted ? dict[wanted] : new DatasetDict(dict);
}
