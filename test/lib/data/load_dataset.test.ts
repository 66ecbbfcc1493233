import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { Dataset } from '../../../lib/data/dataset';
import { DatasetDict } from '../../../lib/data/dataset_dict';
import { loadDataset, splitOfFile } from '../../../lib/data/load_dataset';
import { toCsvText, toJsonlText } from '../../../lib/data/formats';
import { EMBEDDED_DATA_DIR } from '../../../lib/embedded';
import { DatasetError } from '../../../lib/errors';

const COLS = ['id', 'dialogue', 'summary', 'topic'];
const rows = (split: string, n: number) => Array.from({ length: n }, (_, i) => ({
  id: `${split}_${i}`, dialogue: `#Person1#: Hi, ${split} ${i}.\n#Person2#: "Hello", ${i}!`, summary: `#Person1# greets #Person2#, ${i}.`, topic: 'greeting',
}));

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-load-'));
}

function write(file: string, text: string | ArrayBuffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, typeof text === 'string' ? text : Buffer.from(text));
}

function parquet(data: Array<Record<string, string>>): ArrayBuffer {
  return parquetWriteBuffer({ columnData: COLS.map((name) => ({ name, data: data.map((r) => r[name]), type: 'STRING' as const })) });
}

test('split names from file names: shards, synonyms', () => {
  assert.equal(splitOfFile('data/train-00000-of-00001.parquet'), 'train');
  assert.equal(splitOfFile('dev.csv'), 'validation');
  assert.equal(splitOfFile('valid.jsonl'), 'validation');
  assert.equal(splitOfFile('test.json'), 'test');
  assert.equal(splitOfFile('notes.csv'), undefined);
});

test('data/<split>-NNNNN-of-NNNNN.parquet (the Hub layout), shards joined in order', async () => {
  const dir = tmp();
  write(path.join(dir, 'data', 'train-00000-of-00002.parquet'), parquet(rows('train', 3)));
  write(path.join(dir, 'data', 'train-00001-of-00002.parquet'), parquet(rows('train', 5).slice(3)));
  write(path.join(dir, 'data', 'validation-00000-of-00001.parquet'), parquet(rows('validation', 2)));
  write(path.join(dir, 'data', 'test-00000-of-00001.parquet'), parquet(rows('test', 2)));
  write(path.join(dir, 'README.md'), '# card');
  const dd = await loadDataset(dir);
  assert.deepEqual(dd.keys(), ['train', 'validation', 'test']);
  assert.deepEqual(dd.train.toList(), rows('train', 5));
  assert.deepEqual(dd.test.columnNames, COLS);
  fs.rmSync(dir, { recursive: true });
});

test('<split>.csv / .jsonl / .json at the top, data/*.csv, and one folder per split', async () => {
  const dir = tmp();
  const list = (n: string, k: number) => rows(n, k);
  write(path.join(dir, 'a', 'train.csv'), toCsvText(COLS, list('train', 4)));
  write(path.join(dir, 'a', 'validation.jsonl'), toJsonlText(COLS, list('validation', 2)));
  write(path.join(dir, 'a', 'test.json'), JSON.stringify(list('test', 3)));
  const a = await loadDataset(path.join(dir, 'a'));
  assert.deepEqual(a.numRows, { train: 4, validation: 2, test: 3 });
  assert.deepEqual(a.train.toList(), list('train', 4));
  assert.deepEqual(a.test.toList(), list('test', 3));

  write(path.join(dir, 'b', 'data', 'train.csv'), toCsvText(COLS, list('train', 2)));
  write(path.join(dir, 'b', 'data', 'dev.csv'), toCsvText(COLS, list('validation', 1)));
  assert.deepEqual((await loadDataset(path.join(dir, 'b'))).numRows, { train: 2, validation: 1 });

  write(path.join(dir, 'c', 'train', 'part1.jsonl'), toJsonlText(COLS, list('train', 2)));
  write(path.join(dir, 'c', 'test', 'x.json'), JSON.stringify({ data: list('test', 1) }));
  assert.deepEqual((await loadDataset(path.join(dir, 'c'))).numRows, { train: 2, test: 1 });

  // Loose files and a single file become `train`.
  write(path.join(dir, 'd', 'dialogues.jsonl'), toJsonlText(COLS, list('x', 3)));
  assert.deepEqual((await loadDataset(path.join(dir, 'd'))).numRows, { train: 3 });
  const one = await loadDataset(path.join(dir, 'd', 'dialogues.jsonl'), { split: 'train' });
  assert.ok(one instanceof Dataset);
  assert.equal(one.length, 3);
  fs.rmSync(dir, { recursive: true });
});

test("builder names with dataFiles, as datasets' load_dataset('csv', data_files=...)", async () => {
  const dir = tmp();
  write(path.join(dir, 'x.csv'), toCsvText(COLS, rows('x', 3)));
  write(path.join(dir, 'y.jsonl'), toJsonlText(COLS, rows('y', 2)));
  assert.deepEqual((await loadDataset('csv', { dataFiles: path.join(dir, 'x.csv') })).numRows, { train: 3 });
  const dd = await loadDataset('json', { dataFiles: { train: [path.join(dir, 'y.jsonl'), path.join(dir, 'y.jsonl')], test: path.join(dir, 'y.jsonl') } });
  assert.deepEqual(dd.numRows, { train: 4, test: 2 });
  await assert.rejects(loadDataset('csv'), /loadDataset\("csv"\) needs `dataFiles`/);
  await assert.rejects(loadDataset('csv', { dataFiles: path.join(dir, 'nope.csv') }), /`dataFiles` \(train\): .*nope\.csv: no such file/);
  fs.rmSync(dir, { recursive: true });
});

test('the embedded set by name: 1999 / 499 / 499 rows of id, dialogue, summary, topic', async () => {
  for (const name of ['neil-code/dialogsum-test', 'embedded', 'qlora-ts/dialogsum']) {
    const dd = await loadDataset(name);
    assert.ok(dd instanceof DatasetDict);
    assert.deepEqual(dd.numRows, { train: 1999, validation: 499, test: 499 });
    assert.deepEqual(dd.test.columnNames, COLS);
  }
  const test10 = (await loadDataset('neil-code/dialogsum-test', { split: 'test' })).get(10);
  assert.match(test10.dialogue as string, /^#Person1#: /);
  assert.ok(fs.existsSync(path.join(EMBEDDED_DATA_DIR, 'train.jsonl')));
});

test('errors name the path and the layouts looked for, or the splits there are', async () => {
  const dir = tmp();
  write(path.join(dir, 'notes.txt'), 'nothing here');
  await assert.rejects(loadDataset(dir), (e: unknown) => e instanceof DatasetError && e.message.startsWith(`${dir}: no data files found; looked for:`) &&
    e.message.includes('data/<split>[-NNNNN-of-NNNNN].{parquet,csv,json,jsonl}') && e.message.includes('<split>/*.{parquet,csv,json,jsonl}'));
  await assert.rejects(loadDataset(path.join(dir, 'missing')), (e: unknown) => e instanceof DatasetError &&
    e.message.includes(`no such file or folder (${path.join(dir, 'missing')})`) && e.message.includes('"neil-code/dialogsum-test"'));
  await assert.rejects(loadDataset('neil-code/dialogsum-test', { split: 'dev2' }), /split "dev2" not found; splits: \["train", "validation", "test"\]/);
  write(path.join(dir, 'saved', 'dataset_dict.json'), '{"splits": ["train"]}');
  await assert.rejects(loadDataset(path.join(dir, 'saved')), /dataset_dict\.json marks a folder written by datasets' save_to_disk/);
  write(path.join(dir, 'train.jsonl'), '{"a": 1}\n{oops}\n');
  await assert.rejects(loadDataset(dir), (e: unknown) => e instanceof DatasetError && e.message.includes(`${path.join(dir, 'train.jsonl')}: line 2 is not JSON`));
  fs.rmSync(dir, { recursive: true });
});
