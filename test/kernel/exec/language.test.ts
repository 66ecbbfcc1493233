import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Executor } from '../../../kernel/exec/executor.js';
import { notebookDir, run, value } from './cells.js';

const ex = new Executor({ cwd: notebookDir() });
ex.warmUp();

test('completion knows variables of earlier cells', async () => {
  await value(ex, 'const learningRate = 2e-4\nconst loraAlpha = 16');
  const reply = await ex.complete('const lr = learn', 16);
  assert.deepEqual(reply.matches, ['learningRate']);
  assert.equal(reply.cursorStart, 11);
  assert.equal(reply.cursorEnd, 16);
  const types = reply.metadata._jupyter_types_experimental as { text: string; type: string }[];
  assert.deepEqual(types[0], { start: 11, end: 16, text: 'learningRate', type: 'const' });
});

test('completion of members: a package imported in an earlier cell, and a class of one', async () => {
  await value(ex, "import * as path from 'node:path'\nclass Trainer { step(): void {}; stop(): void {} }\nconst trainer = new Trainer()");
  const pkg = await ex.complete('path.bas', 8);
  assert.deepEqual(pkg.matches, ['basename']);
  assert.equal(pkg.cursorStart, 5);
  const members = await ex.complete('trainer.st\n', 10);
  assert.deepEqual(members.matches, ['step', 'stop']);
  const all = await ex.complete('trainer.', 8);
  assert.deepEqual(all.matches, ['step', 'stop']);
});

test('completion inside a multi-line cell and of the display API', async () => {
  const code = 'const x = 1\nfunction f() {\n  return disp\n}';
  const reply = await ex.complete(code, code.indexOf('disp') + 4);
  assert.ok(reply.matches.includes('display'));
});

test('inspect shows the type and documentation of what is under the cursor', async () => {
  await value(ex, '/** Steps between two evaluations. */\nconst evalSteps: number = 50');
  const reply = await ex.inspect('evalSteps + 1', 4, 0);
  assert.equal(reply.found, true);
  assert.equal(reply.data['text/plain'], 'const evalSteps: number\n\nSteps between two evaluations.');
  assert.match(String(reply.data['text/markdown']), /^```typescript\nconst evalSteps: number\n```/);
  const pkg = await ex.inspect('path.join', 7, 1);
  assert.match(String(pkg.data['text/plain']), /join\(\.\.\.paths: string\[\]\): string\n\nJoin all arguments together/);
  assert.deepEqual(await ex.inspect('   ', 1, 0), { found: false, data: {} });
});

test('is_complete: complete, incomplete with indent, invalid', () => {
  assert.deepEqual(ex.isComplete('const a = 1'), { status: 'complete' });
  assert.deepEqual(ex.isComplete(''), { status: 'complete' });
  assert.deepEqual(ex.isComplete('function f() {'), { status: 'incomplete', indent: '  ' });
  assert.deepEqual(ex.isComplete('if (ok) {\n  for (const x of xs) {'), { status: 'incomplete', indent: '    ' });
  assert.deepEqual(ex.isComplete('call(1,'), { status: 'incomplete', indent: '  ' });
  assert.deepEqual(ex.isComplete('const s = `multi\nline'), { status: 'incomplete', indent: '' });
  assert.deepEqual(ex.isComplete('interface P {\n  x: number'), { status: 'incomplete', indent: '  ' });
  assert.deepEqual(ex.isComplete('const a = )'), { status: 'invalid' });
  assert.deepEqual(ex.isComplete('}'), { status: 'invalid' });
  assert.deepEqual(ex.isComplete("const s = 'unterminated"), { status: 'invalid' });
});

test('a re-declared name replaces the old declaration for the type checker', async () => {
  await value(ex, 'let mode = "train"');
  await value(ex, 'const mode = 3');
  assert.equal(await value(ex, 'mode.toFixed(1)'), "'3.0'");
  const reply = await ex.inspect('mode', 2, 0);
  assert.equal(reply.data['text/plain'], 'const mode: 3');
});

test('values whose types TypeScript cannot write down stay usable in later cells', async () => {
  await value(ex, "const key = Symbol('key')\nconst keyed = { [key]: 1 }\nconst anon = new (class { v = 3 })()\nlet later = null");
  assert.equal(await value(ex, 'keyed[key] + anon.v'), '4');
  assert.equal(await value(ex, 'later = 5\nlater'), '5');
});

test('re-run cells reuse their check until a declaration changes, then are checked again', async () => {
  const first = 'let unit = 1';
  const use = 'unit.toFixed(1)';
  const other = 'unit + 1';
  await value(ex, first);
  for (let i = 0; i < 2; i++) {
    // Alternating cells that declare nothing keep their (cached) clean checks.
    assert.equal((await run(ex, use)).result.status, 'ok');
    assert.equal((await run(ex, other)).result.status, 'ok');
  }
  await value(ex, "let unit = 'kg'");
  const again = (await run(ex, use)).result;
  assert.equal(again.status, 'error');
  assert.equal(again.status === 'error' && again.ename, 'TSError');
  assert.match(again.status === 'error' ? again.evalue : '', /toFixed/);
});
