import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Executor } from '../../../kernel/exec/executor.js';
import { notebookDir, run, streamText, value, type Output } from './cells.js';

const ex = new Executor({ cwd: notebookDir() });

function displays(outputs: Output[]) {
  return outputs.filter((o) => o.kind === 'display') as Extract<Output, { kind: 'display' }>[];
}

test('stdout and stderr reach the hooks in order, including writes from callbacks while the cell runs', async () => {
  const { result, outputs } = await run(ex, [
    "console.log('one', 1)",
    "process.stdout.write('two\\n')",
    "console.error('three')",
    "setTimeout(() => console.log('four'), 5)",
    'await new Promise((r) => setTimeout(r, 30))',
    "process.stderr.write(Buffer.from('five\\n'))",
    "console.info({ six: 6 })",
  ].join('\n'));
  assert.equal(result.status, 'ok');
  assert.equal(streamText(outputs), 'stdout:one 1\nstdout:two\nstderr:three\nstdout:four\nstderr:five\nstdout:{ six: 6 }\n');
});

test('stdout is the kernel\'s own again after the cell', async () => {
  const original = process.stdout.write;
  await run(ex, "console.log('inside')");
  assert.equal(process.stdout.write, original);
});

test('the last expression is formatted as plain text without ANSI escapes', async () => {
  assert.equal(await value(ex, "'abc'"), "'abc'");
  assert.equal(await value(ex, '({ a: 1, b: [1, 2], c: new Map([[1, "x"]]) })'), "{ a: 1, b: [ 1, 2 ], c: Map(1) { 1 => 'x' } }");
  assert.equal(await value(ex, "'\\u001b[31mred\\u001b[0m'.length"), '12');
  assert.equal(ex.formatValue('\u001b[31mred\u001b[0m')['text/plain'], "'\\x1B[31mred\\x1B[0m'");
  assert.equal(ex.formatValue({ s: '\u001b[1mx' })['text/plain'], "{ s: '\\x1B[1mx' }");
  assert.equal(await value(ex, 'const nothing = undefined\nnothing'), undefined);
  assert.equal(await value(ex, "console.log('x')"), undefined);
  assert.equal(await value(ex, '1 + 1\ninterface AfterValue { a: number }'), '2');
  assert.equal(await value(ex, "{ a: 1, b: 'x' }"), "{ a: 1, b: 'x' }");
  assert.equal(await value(ex, '{ let inBlock = 1 }'), undefined);
});

test('objects with Symbol.for("Jupyter.display") render with their bundle', async () => {
  const { result } = await run(ex, [
    'class Table {',
    "  [Symbol.for('Jupyter.display')]() { return { 'text/html': '<table></table>', 'text/plain': 'Table' } }",
    '}',
    'new Table()',
  ].join('\n'));
  assert.ok(result.status === 'ok' && result.hasValue);
  assert.deepEqual(ex.formatValue(result.value), { 'text/html': '<table></table>', 'text/plain': 'Table' });
  const shown = await run(ex, 'display(new Table())');
  assert.deepEqual(displays(shown.outputs)[0].bundle, { 'text/html': '<table></table>', 'text/plain': 'Table' });
  assert.equal(shown.result.status === 'ok' && shown.result.hasValue, false);
});

test('display handles update their output in place; html, markdown, svg, png, json, latex, clearOutput', async () => {
  const { result, outputs } = await run(ex, [
    "const handle = display('first')",
    "handle.update({ 'text/html': '<b>second</b>' })",
    "display(3, { displayId: 'fixed' })",
    "html('<i>h</i>'); markdown('# m'); svg('<svg></svg>'); latex('$x$')",
    'png(new Uint8Array([137, 80, 78, 71]))',
    'json({ k: [1] })',
    'clearOutput({ wait: true })',
    'handle.displayId',
  ].join('\n'));
  assert.equal(result.status, 'ok');
  const shown = displays(outputs);
  assert.deepEqual(shown[0].bundle, { 'text/plain': "'first'" });
  assert.equal(shown[1].opts?.displayId, shown[0].opts?.displayId);
  assert.equal(shown[1].opts?.update, true);
  assert.equal(shown[1].bundle['text/html'], '<b>second</b>');
  assert.equal(shown[2].opts?.displayId, 'fixed');
  assert.equal(shown[3].bundle['text/html'], '<i>h</i>');
  assert.equal(shown[4].bundle['text/markdown'], '# m');
  assert.equal(shown[5].bundle['image/svg+xml'], '<svg></svg>');
  assert.equal(shown[6].bundle['text/latex'], '$x$');
  assert.equal(shown[7].bundle['image/png'], 'iVBORw==');
  assert.deepEqual(shown[8].bundle['application/json'], { k: [1] });
  assert.deepEqual(outputs[outputs.length - 1], { kind: 'clear', wait: true });
  assert.ok(result.status === 'ok' && result.value === shown[0].opts?.displayId);
});

test('the library\'s display sink and the AbortSignal exist while a cell runs, and only then', async () => {
  const controller = new AbortController();
  const { result, outputs } = await run(ex, [
    "const sink = (globalThis as any)[Symbol.for('Jupyter.displaySink')]",
    "sink.display({ 'text/plain': 'live' }, { displayId: 'loss', update: false })",
    'sink.clear(false)',
    'sink.signal === kernelSignal && kernelSignal === Jupyter.signal && !kernelSignal.aborted',
  ].join('\n'), controller);
  assert.ok(result.status === 'ok' && result.value === true);
  assert.deepEqual(displays(outputs)[0], { kind: 'display', bundle: { 'text/plain': 'live' }, opts: { displayId: 'loss', update: false } });
  assert.equal((globalThis as Record<symbol, unknown>)[Symbol.for('Jupyter.displaySink')], undefined);
});

test('input and password ask through the hooks', async () => {
  const { result, outputs } = await run(ex, "const name = await input('name? ')\nconst secret = await password('pw: ')\nname + secret");
  assert.ok(result.status === 'ok' && result.value === 'typedtyped');
  assert.deepEqual(outputs, [
    { kind: 'input', prompt: 'name? ', password: false },
    { kind: 'input', prompt: 'pw: ', password: true },
  ]);
});
