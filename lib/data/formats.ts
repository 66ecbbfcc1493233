/**
 * Reading and writing the files data sets come in: CSV (papaparse, RFC 4180 quoting), JSON
 * (an array of rows, `{ "data": [...] }`, or JSON lines), JSON lines, and parquet (hyparquet).
 */
import * as fs from 'node:fs';
import Papa from 'papaparse';
import { DatasetError } from '../errors';

type Row = Record<string, unknown>;

const listToText = (v: unknown): unknown => (v !== null && typeof v === 'object' && !(v instanceof Date) ? JSON.stringify(ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v) : v);

/** CSV text with a header; every field that needs it quoted (commas, quotes, newlines). */
export function toCsvText(columns: string[], rows: Row[]): string {
  return Papa.unparse({ fields: columns, data: rows.map((r) => columns.map((c) => listToText(r[c]) ?? '')) }, { newline: '\n' }) + '\n';
}

export function toJsonlText(columns: string[], rows: Row[]): string {
  return rows.map((r) => JSON.stringify(Object.fromEntries(columns.map((c) => [c, ArrayBuffer.isView(r[c]) ? Array.from(r[c] as unknown as ArrayLike<number>) : r[c]])))).join('\n') + (rows.length ? '\n' : '');
}

/** Rows of a CSV file; numbers stay text unless the whole column parses as numbers (as pandas). */
export function readCsv(file: string): Row[] {
  const parsed = Papa.parse<Row>(fs.readFileSync(file, 'utf8'), { header: true, skipEmptyLines: true });
  const bad = parsed.errors.find((e) => e.type !== 'FieldMismatch' || e.code !== 'TooFewFields');
  if (bad) throw new DatasetError(`${file}: CSV row ${bad.row}: ${bad.message}`, 'fields with commas, quotes or newlines must be quoted ("…", with "" for a quote)');
  const rows = parsed.data;
  for (const col of parsed.meta.fields ?? []) {
    const values = rows.map((r) => r[col] as string);
    if (values.length && values.every((v) => v !== '' && v !== undefined && /^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(v))) {
      for (const r of rows) r[col] = Number(r[col]);
    }
  }
  return rows;
}

/** Rows of a .json file (array, `{ data: [...] }`, or JSON lines) or a .jsonl file. */
export function readJson(file: string): Row[] {
  const text = fs.readFileSync(file, 'utf8');
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[') || (trimmed.startsWith('{') && !file.endsWith('.jsonl'))) {
    try {
      const value = JSON.parse(text);
      if (Array.isArray(value)) return value as Row[];
      if (Array.isArray(value?.data)) return value.data as Row[];
      if (value && typeof value === 'object' && Object.values(value).every(Array.isArray)) {
        const cols = value as Record<string, unknown[]>;
        const n = Object.values(cols)[0]?.length ?? 0;
        return Array.from({ length: n }, (_, i) => Object.fromEntries(Object.keys(cols).map((k) => [k, cols[k][i]])));
      }
    } catch {
      // Not one JSON value: read it as JSON lines below.
    }
  }
  const rows: Row[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      rows.push(JSON.parse(line));
    } catch (err) {
      throw new DatasetError(`${file}: line ${i + 1} is not JSON (${(err as Error).message})`, 'a .jsonl file holds one JSON object per line');
    }
  });
  return rows;
}

/** Rows of a parquet file, BigInt values as numbers where they fit. */
export async function readParquet(file: string): Promise<Row[]> {
  const { parquetReadObjects, asyncBufferFromFile } = await import('hyparquet');
  const rows = (await parquetReadObjects({ file: await asyncBufferFromFile(file) })) as Row[];
  for (const r of rows) for (const k of Object.keys(r)) if (typeof r[k] === 'bigint' && Number.isSafeInteger(Number(r[k]))) r[k] = Number(r[k]);
  return rows;
}

export async function readRows(file: string): Promise<Row[]> {
  if (file.endsWith('.csv')) return readCsv(file);
  if (file.endsWith('.json') || file.endsWith('.jsonl')) return readJson(file);
  if (file.endsWith('.parquet')) return readParquet(file);
  throw new DatasetError(`${file}: unknown data file type`, 'use .csv, .json, .jsonl or .parquet');
}
