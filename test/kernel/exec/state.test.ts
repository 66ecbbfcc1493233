import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Executor } from '../../../kernel/exec/executor.js';
import { notebookDir, run, value } from './cells.js';

const ex = new Executor({ cwd: notebookDir() });

test('declarations of every kind are visible in later cells, and re-running const works', async () => {
  assert.equal(await value(ex, 'const x: number = 41\nlet y = "a"\nvar z = [1, 2]'), undefined);
  assert.equal(await value(ex, 'x + 1'), '42');
  assert.equal(await value(ex, 'const x = 2; x'), '2');
  assert.equal(await value(ex, 'const x = 2; x'), '2');
  assert.equal(await value(ex, 'const { a, b: [c, ...rest] } = { a: 1, b: [2, 3, 4] }'), undefined);
  assert.equal(await value(ex, 'a + c + rest.length + y + z.length'), "'5a2'");
  assert.equal(await value(ex, 'function twice(n: number): number { return 2 * n }\nclass Box { constructor(public v: number) {} }'), undefined);
  assert.equal(await value(ex, 'twice(new Box(4).v)'), '8');
  assert.equal(await value(ex, 'let counter = 0\nfunction bump() { return ++counter }\nbump(); bump()'), '2');
  assert.equal(await value(ex, 'counter'), '2');
});

test('interfaces, enums, generics, classes and export syntax', async () => {
  await value(ex, [
    'export interface Point { x: number; y: number }',
    'export enum Color { Red, Green = 5 }',
    'type Pair<T> = [T, T]',
    'export class Stack<T> {',
    '  private items: T[] = []',
    '  constructor(readonly name: string) {}',
    '  push(item: T): this { this.items.push(item); return this }',
    '  get size(): number { return this.items.length }',
    '}',
    'export function first<T>(pair: Pair<T>): T { return pair[0] }',
  ].join('\n'));
  assert.equal(await value(ex, 'const p: Point = { x: 1, y: 2 }\nnew Stack<Point>("s").push(p).push(p).size + Color.Green + first<number>([10, 20])'), '17');
  assert.equal(await value(ex, 'Color[5]'), "'Green'");
  assert.equal(await value(ex, 'namespace Geometry { export const unit = 1 }\nGeometry.unit'), '1');
});

test('top-level await, awaited last values and declarations after an await', async () => {
  assert.equal(await value(ex, 'await new Promise<number>((r) => setTimeout(() => r(7), 5))'), '7');
  assert.equal(await value(ex, 'const v = await Promise.resolve(3)\nv * 2'), '6');
  assert.equal(await value(ex, 'v + 1'), '4');
  assert.equal(await value(ex, 'Promise.resolve("later")'), "'later'");
  assert.equal(await value(ex, 'let w = v\nfor await (const n of (async function* () { yield 1; yield 2 })()) { w += n }\nw'), '6');
});

test('imports: node builtins, an installed package, require and qlora-ts itself', async () => {
  assert.equal(await value(ex, "import { basename } from 'node:path'\nimport * as fs from 'fs'\nimport os from 'node:os'"), undefined);
  assert.equal(await value(ex, "basename('/a/b.txt') + typeof fs.readFileSync + typeof os.cpus"), "'b.txtfunctionfunction'");
  assert.equal(await value(ex, "import Papa from 'papaparse'\nPapa.parse('a,b\\n1,2', { header: true }).data"), "[ { a: '1', b: '2' } ]");
  assert.equal(await value(ex, "const { unparse } = require('papaparse') as typeof Papa\nunparse([[1, 2]])"), "'1,2'");
  assert.equal(await value(ex, "import { displaySymbol, isDisplayable } from 'qlora-ts'\ndisplaySymbol === Symbol.for('Jupyter.display') && typeof isDisplayable"), "'function'");
  assert.equal(await value(ex, "import nodeOs = require('node:os')\ntypeof nodeOs.cpus"), "'function'");
  assert.equal(await value(ex, 'typeof nodeOs.platform()'), "'string'");
  const missing = await run(ex, "import { nothing } from 'no-such-package-here'");
  assert.equal(missing.result.status, 'error');
});

test('main realm: typed arrays and tfjs tensors made by cells are the kernel\'s own', async () => {
  const { result } = await run(ex, 'new Float32Array([1, 2])');
  assert.ok(result.status === 'ok' && result.value instanceof Float32Array);
  await value(ex, "import * as tf from '@tensorflow/tfjs-core'\nimport '@tensorflow/tfjs-backend-cpu'\nawait tf.setBackend('cpu')");
  assert.equal(await value(ex, 'const t = tf.tensor([1, 2, 3])\nt instanceof tf.Tensor && t.dataSync() instanceof Float32Array'), 'true');
  assert.equal(await value(ex, 'const shown = tf.add(t, 1)\nshown'), 'Tensor\n  dtype: float32\n  rank: 1\n  shape: [3]\n  values:\n    [2, 3, 4]');
  assert.equal(await value(ex, 't.dispose(); shown.dispose(); tf.memory().numTensors'), '0');
});

test('an ES-module-only package loads by import and by dynamic import()', async () => {
  assert.equal(await value(ex, "import { validate, v4 } from 'uuid'\nvalidate(v4())"), 'true');
  assert.equal(await value(ex, "const jinja = await import('@huggingface/jinja')\nnew jinja.Template('{{ a }}!').render({ a: 1 })"), "'1!'");
});

test('evaluateExpression reads the state cells left (user_expressions)', async () => {
  await value(ex, 'const answer: number = 42');
  const r = await ex.evaluateExpression('answer + 0.5');
  assert.deepEqual(r, { status: 'ok', hasValue: true, value: 42.5 });
  const bad = await ex.evaluateExpression('notDefinedAnywhere + 1');
  assert.equal(bad.status, 'error');
  assert.equal(bad.status === 'error' && bad.ename, 'ReferenceError');
});

test('a notebook outside the repository: Node types, and a TypeScript file next to it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qlora-ts-notebook-'));
  try {
    writeFileSync(join(dir, 'helpers.ts'), 'export interface Scale { factor: number }\nexport function scale(x: number, s: Scale): number { return x * s.factor }\n');
    const outside = new Executor({ cwd: dir });
    assert.equal(await value(outside, "import { scale, type Scale } from './helpers'\nimport { platform } from 'node:os'\nconst by: Scale = { factor: 3 }\nscale(2, by)"), '6');
    const wrong = await run(outside, "scale(1, { factor: 'x' })");
    assert.equal(wrong.result.status === 'error' && wrong.result.ename, 'TSError');
    assert.equal(await value(outside, 'typeof platform()'), "'string'");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
