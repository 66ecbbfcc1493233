import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Dataset } from '../../../lib/data/dataset';
import { DatasetDict } from '../../../lib/data/dataset_dict';
import { permutation } from '../../../lib/random';
import { readCsv, readJson } from '../../../lib/data/formats';
import { ArgumentError, DatasetError } from '../../../lib/errors';

const small = (): Dataset => Dataset.fromDict({
  id: ['a', 'b', 'c', 'd', 'e'],
  n: [5, 3, 4, 1, 2],
  text: ['one two', 'three', 'four five six', 'seven', 'eight nine'],
});

test('length, column names, row access as plain objects, negative index, iteration', () => {
  const ds = small();
  assert.equal(ds.length, 5);
  assert.equal(ds.numRows, 5);
  assert.deepEqual(ds.columnNames, ['id', 'n', 'text']);
  assert.deepEqual(ds.get(1), { id: 'b', n: 3, text: 'three' });
  assert.deepEqual(ds.get(-1), { id: 'e', n: 2, text: 'eight nine' });
  assert.deepEqual([...ds].map((r) => r.id), ['a', 'b', 'c', 'd', 'e']);
  assert.deepEqual(ds.column('n'), [5, 3, 4, 1, 2]);
  assert.deepEqual(ds.features, { id: 'string', n: 'int64', text: 'string' });
  assert.deepEqual(Dataset.fromDict({ a: [1, 2.5], b: [[1], null], c: [true, 'x'] }).features, { a: 'float64', b: 'list', c: 'mixed' });
  assert.deepEqual(ds.head(2).column('id'), ['a', 'b']);
  assert.equal(ds.head(99).length, 5);
  assert.throws(() => ds.get(5), (e: unknown) => e instanceof ArgumentError && /row index 5 out of range for a dataset of 5 rows/.test(e.message));
  assert.equal(ds.toString(), "Dataset({\n    features: ['id', 'n', 'text'],\n    num_rows: 5\n})");
});

test('fromList takes the union of keys and fills missing cells with null', () => {
  const ds = Dataset.fromList([{ a: 1 }, { b: 'x' }]);
  assert.deepEqual(ds.columnNames, ['a', 'b']);
  assert.deepEqual(ds.toList(), [{ a: 1, b: null }, { a: null, b: 'x' }]);
  assert.throws(() => Dataset.fromDict({ a: [1, 2], b: [1] }), /columns have different lengths: a=2, b=1/);
});

test('a missing column is a DatasetError listing the columns there are', () => {
  assert.throws(() => small().column('summary'), (e: unknown) =>
    e instanceof DatasetError && e.message.includes('column "summary" is not in the dataset; columns: ["id", "n", "text"]'));
  assert.throws(() => small().map((r) => r, { removeColumns: ['nope'] }), /column "nope" is not in the dataset/);
  assert.throws(() => small().sort('nope'), DatasetError);
});

test('map per row adds and replaces columns; removeColumns drops inputs after fn saw them', () => {
  const ds = small().map((row, i) => ({ words: (row.text as string).split(' ').length, n: (row.n as number) * 10 + i }), { removeColumns: 'text' });
  assert.deepEqual(ds.columnNames, ['id', 'n', 'words']);
  assert.deepEqual(ds.column('words'), [2, 1, 3, 1, 2]);
  assert.deepEqual(ds.column('n'), [50, 31, 42, 13, 24]);
  // A fn that mutates and returns the row (the walkthrough's create_prompt_formats) keeps every column.
  const same = small().map((row) => { row.extra = true; return row; });
  assert.deepEqual(same.columnNames, ['id', 'n', 'text', 'extra']);
});

test('map batched sees batchSize rows, keeps list cells, and may change the row count only when every input column goes', () => {
  const sizes: number[] = [];
  const ds = small().map((batch: { text: string[] }) => {
    sizes.push(batch.text.length);
    return { input_ids: batch.text.map((t) => t.split(' ').map((w) => w.length)) };
  }, { batched: true, batchSize: 2 });
  assert.deepEqual(sizes, [2, 2, 1]);
  assert.deepEqual(ds.get(2).input_ids, [4, 4, 3]);
  assert.deepEqual(ds.columnNames, ['id', 'n', 'text', 'input_ids']);
  const words = small().map((b: { text: string[] }) => ({ word: b.text.flatMap((t) => t.split(' ')) }), { batched: true, removeColumns: ['id', 'n', 'text'] });
  assert.deepEqual(words.column('word'), ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine']);
  assert.throws(() => small().map((b: { text: string[] }) => ({ word: b.text.flatMap((t) => t.split(' ')) }), { batched: true }),
    (e: unknown) => e instanceof DatasetError && /returned 9 rows for 5, but columns \["id", "n", "text"\] are kept/.test(e.message));
  assert.throws(() => small().map((b) => b, { batched: true, batchSize: 0 }), /`batchSize` must be a positive integer, got 0/);
});

test('filter, select, sort (stable, reverse), removeColumns, renameColumn', () => {
  const ds = small();
  assert.deepEqual(ds.filter((r) => (r.n as number) > 2).column('id'), ['a', 'b', 'c']);
  assert.deepEqual(ds.select([4, 0, 0]).column('id'), ['e', 'a', 'a']);
  assert.throws(() => ds.select([7]), /`indices` holds 7, out of range for 5 rows/);
  assert.deepEqual(ds.sort('n').column('id'), ['d', 'e', 'b', 'c', 'a']);
  assert.deepEqual(ds.sort('n', { reverse: true }).column('n'), [5, 4, 3, 2, 1]);
  const ties = Dataset.fromDict({ k: [1, 0, 1, 0], i: [0, 1, 2, 3] });
  assert.deepEqual(ties.sort('k').column('i'), [1, 3, 0, 2]);
  assert.deepEqual(ds.removeColumns(['n', 'text']).columnNames, ['id']);
  assert.deepEqual(ds.renameColumn('text', 'dialogue').columnNames, ['id', 'n', 'dialogue']);
});

test('shuffle is deterministic per seed, a permutation, and differs between seeds', () => {
  const big = Dataset.fromDict({ i: Array.from({ length: 200 }, (_, k) => k) });
  const a = big.shuffle({ seed: 42 }).column('i');
  assert.deepEqual(big.shuffle({ seed: 42 }).column('i'), a);
  assert.deepEqual([...a].sort((x, y) => (x as number) - (y as number)), big.column('i'));
  assert.notDeepEqual(big.shuffle({ seed: 7 }).column('i'), a);
  // The documented generator: mulberry32 + Fisher–Yates; pinned so a change shows.
  assert.deepEqual(permutation(8, 42), permutation(8, 42));
  assert.deepEqual(small().shuffle({ seed: 42 }).column('id'), permutation(5, 42).map((k) => 'abcde'[k]));
});

test('trainTestSplit: fraction rounds the test part up, counts work, both parts cover the rows once', () => {
  const big = Dataset.fromDict({ i: Array.from({ length: 10 }, (_, k) => k) });
  const split = big.trainTestSplit({ testSize: 0.25, seed: 1 });
  assert.ok(split instanceof DatasetDict);
  assert.deepEqual(split.keys(), ['train', 'test']);
  assert.equal(split.test.length, 3);
  assert.equal(split.train.length, 7);
  assert.deepEqual([...split.train.column('i'), ...split.test.column('i')].sort((x, y) => (x as number) - (y as number)), big.column('i'));
  assert.deepEqual(big.trainTestSplit({ testSize: 2, shuffle: false }).test.column('i'), [8, 9]);
  assert.throws(() => big.trainTestSplit({ testSize: 10 }), /`testSize`=10 gives 10 test rows of 10/);
});

test('DatasetDict: a missing split is an error listing the splits; repr as datasets', () => {
  const dd = new DatasetDict({ train: small(), test: small().select([0]) });
  assert.throws(() => dd.validation, (e: unknown) => e instanceof DatasetError && e.message.includes('split "validation" not found; splits: ["train", "test"]'));
  assert.deepEqual(dd.numRows, { train: 5, test: 1 });
  assert.equal(dd.toString(), [
    'DatasetDict({',
    '    train: Dataset({',
    "        features: ['id', 'n', 'text'],",
    '        num_rows: 5',
    '    })',
    '    test: Dataset({',
    "        features: ['id', 'n', 'text'],",
    '        num_rows: 1',
    '    })',
    '})',
  ].join('\n'));
  assert.deepEqual(dd.map((r) => ({ n: (r.n as number) + 1 })).test.column('n'), [6]);
});

test('describe gives per-column kind, counts and length statistics', () => {
  const ds = Dataset.fromDict({ t: ['ab', 'abcd', null, 'ab cd ef'], x: [1, 2, 3, 4], ids: [[1], [1, 2], [1, 2, 3], [4]] });
  assert.deepEqual(ds.describe().toList(), [
    { column: 't', kind: 'string', count: 3, nulls: 1, unique: 3, min: 2, mean: 4.67, median: 4, max: 8, meanWords: 1.67 },
    { column: 'x', kind: 'number', count: 4, nulls: 0, unique: 4, min: 1, mean: 2.5, median: 2.5, max: 4, meanWords: null },
    { column: 'ids', kind: 'list', count: 4, nulls: 0, unique: 4, min: 1, mean: 1.75, median: 1.5, max: 3, meanWords: null },
  ]);
});

test('toCsv quotes commas, quotes and newlines and reads back equal; toJsonl round trips lists', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-ds-'));
  const rows = Dataset.fromDict({
    id: ['x1', 'x2', 'x3'],
    dialogue: ['#Person1#: Hi, Tom.\n#Person2#: "Hello", he said.', 'a,b,,c', 'line1\r\nline2 "q" \'s\''],
    n: [1, 2, 3],
  });
  const csv = path.join(dir, 'train.csv');
  rows.toCsv(csv);
  assert.equal(fs.readFileSync(csv, 'utf8').split('\n')[0], 'id,dialogue,n');
  assert.ok(fs.readFileSync(csv, 'utf8').includes('"#Person1#: Hi, Tom.\n#Person2#: ""Hello"", he said."'));
  assert.deepEqual(readCsv(csv), rows.toList());
  const withLists = rows.map((r) => ({ input_ids: [(r.n as number), 7] }));
  const jsonl = path.join(dir, 'train.jsonl');
  withLists.toJsonl(jsonl);
  assert.deepEqual(readJson(jsonl), withLists.toList());
  fs.rmSync(dir, { recursive: true });
});

test('toFrame gives a danfo DataFrame with the same rows (list cells as JSON text) and fromFrame reads it back', () => {
  const ds = small().map((r) => ({ ids: [r.n, 0] }));
  // danfo shares the app's tfjs engine; building a frame holds no tensors.
  const tf = require('@tensorflow/tfjs') as typeof import('@tensorflow/tfjs');
  const before = tf.memory().numTensors;
  const df = ds.toFrame();
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(df.shape, [5, 4]);
  assert.deepEqual(df.columns, ['id', 'n', 'text', 'ids']);
  assert.deepEqual(df.column('n').values, [5, 3, 4, 1, 2]);
  assert.equal(df.values[0][3], '[5,0]');
  assert.equal(ds.toFrame(), df);
  assert.deepEqual(Dataset.fromFrame(df).removeColumns('ids').toList(), small().toList());
});
