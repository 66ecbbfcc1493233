import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Executor, type ExecResult } from '../../../kernel/exec/executor.js';
import { hooksFor, notebookDir, run, settle, streamText, value, type Output } from './cells.js';

const ex = new Executor({ cwd: notebookDir() });

function failed(result: ExecResult): Extract<ExecResult, { status: 'error' }> {
  assert.equal(result.status, 'error', 'the cell should have failed');
  return result as Extract<ExecResult, { status: 'error' }>;
}

/** `cell[N]:L:C` frames of a traceback, as `L`. */
function cellLines(traceback: string[]): number[] {
  return traceback.flatMap((l) => [...l.matchAll(/cell\[\d+\]:(\d+):\d+/g)].map((m) => Number(m[1])));
}

test('runtime errors carry ename, evalue and a traceback with the cell\'s line numbers', async () => {
  const { result } = await run(ex, [
    'interface Shape { sides: number }',           // 1: gone after transpiling
    'enum Kind { A, B }',                          // 2: becomes four lines
    'const shape: Shape = { sides: 3 }',           // 3
    'function explode(s: Shape): never {',         // 4
    '  throw new RangeError(`bad ${s.sides}`)',    // 5
    '}',                                           // 6
    'explode(shape)',                              // 7
  ].join('\n'));
  const err = failed(result);
  assert.equal(err.ename, 'RangeError');
  assert.equal(err.evalue, 'bad 3');
  assert.equal(err.traceback[0], 'RangeError: bad 3');
  assert.deepEqual(cellLines(err.traceback), [5, 7]);
  assert.ok(err.traceback.some((l) => l.startsWith('    at explode (cell[')));
  assert.equal(err.traceback[err.traceback.length - 1], '--> 5 |   throw new RangeError(`bad ${s.sides}`)');
  assert.ok(!err.traceback.join('\n').includes('kernel/exec'), 'kernel frames are not shown');
});

test('with the request\'s execution_count, frames name the cell In[n] like the front end', async () => {
  const outputs: Output[] = [];
  await settle();
  const result = await ex.execute('const n: any = {}\nn.missing.field', { ...hooksFor(outputs), executionCount: 7 });
  const err = failed(result);
  assert.equal(err.ename, 'TypeError');
  assert.ok(err.traceback.some((l) => l.includes('at In[7]:2:')), err.traceback.join('\n'));
  await settle();
  const typeErr = failed(await ex.execute('\nconst q: number = "x"', { ...hooksFor(outputs), executionCount: 8 }));
  assert.ok(typeErr.traceback.some((l) => l.startsWith('In[8]:2:7 - error TS2322')), typeErr.traceback.join('\n'));
});

test('a function from an earlier cell is reported at its own cell\'s line', async () => {
  await value(ex, '// helpers\n\nfunction divide(a: number, b: number) {\n  if (b === 0) throw new Error("division by zero")\n  return a / b\n}');
  const err = failed((await run(ex, 'const ok = divide(4, 2)\ndivide(1, 0)')).result);
  assert.equal(err.evalue, 'division by zero');
  assert.deepEqual(cellLines(err.traceback), [4, 2]);
  assert.equal(await value(ex, 'ok'), '2', 'what ran before the error stays');
});

test('a type error is reported with its line in the cell, and the cell does not run', async () => {
  const err = failed((await run(ex, "(globalThis as any).ranAnyway = true\nconst count: number = 'three'")).result);
  assert.equal(err.ename, 'TSError');
  assert.match(err.evalue, /Type 'string' is not assignable to type 'number'\. \(line 2\)/);
  assert.ok(err.traceback.some((l) => /cell\[\d+\]:2:7 - error TS2322/.test(l)));
  assert.equal((globalThis as Record<string, unknown>).ranAnyway, undefined);
});

test('types of earlier cells are checked against: a misuse of their declarations is a type error', async () => {
  await value(ex, 'const total = 10\nfunction greet(name: string): string { return `hi ${name}` }');
  const err = failed((await run(ex, '\ngreet(total)')).result);
  assert.match(err.evalue, /not assignable to parameter of type 'string'\. \(line 2\)/);
  assert.equal(await value(ex, 'greet(String(total))'), "'hi 10'");
});

test('// @ts-nocheck runs a cell despite type errors; typeCheck: "warn" reports them on stderr and runs', async () => {
  assert.equal(await value(ex, "// @ts-nocheck\nconst loose: number = 'x'\nloose"), "'x'");
  const warn = new Executor({ cwd: notebookDir(), typeCheck: 'warn' });
  const { result, outputs } = await run(warn, "const w: number = 'y'\nw");
  assert.ok(result.status === 'ok' && result.value === 'y');
  assert.match(streamText(outputs), /^stderr:cell\[\d+\]:1:7 - error TS2322/);
});

test('syntax errors name the cell line', async () => {
  const err = failed((await run(ex, 'const fine = 1\n\nconst broken = )\n')).result);
  assert.equal(err.ename, 'SyntaxError');
  assert.match(err.evalue, /\(line 3\)$/);
  assert.equal(err.traceback[err.traceback.length - 1], '--> 3 | const broken = )');
});

test('non-Error throws and rejected awaits', async () => {
  const thrown = failed((await run(ex, "throw 'plain string'")).result);
  assert.equal(thrown.evalue, 'plain string');
  const rejected = failed((await run(ex, "\nawait Promise.reject(new TypeError('nope'))")).result);
  assert.equal(rejected.ename, 'TypeError');
  assert.deepEqual(cellLines(rejected.traceback), [2]);
});

test('an abort during a pending await ends the cell with KeyboardInterrupt and keeps state', async () => {
  await value(ex, 'let kept = 1');
  const { result } = await run(ex, "kept = 2\nconsole.log('waiting')\nawait new Promise(() => {})", undefined, 'waiting');
  const err = failed(result);
  assert.equal(err.ename, 'KeyboardInterrupt');
  assert.equal(await value(ex, 'kept'), '2');
});

test('library code sees the abort through kernelSignal and can stop cleanly', async () => {
  const { result } = await run(ex, [
    'let steps = 0',
    'const signal = kernelSignal',
    "console.log('training')",
    'while (!signal.aborted) { steps++; await new Promise((r) => setTimeout(r, 2)) }',
  ].join('\n'), undefined, 'training');
  assert.equal(failed(result).ename, 'KeyboardInterrupt');
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(Number(await value(ex, 'steps')) > 0);
  assert.equal(await value(ex, 'signal.aborted'), 'true');
});

test('SIGINT breaks a synchronous infinite loop and the kernel keeps its state', async () => {
  process.on('SIGINT', () => undefined);
  const { result } = await run(ex, [
    'let spins = 0',
    "require('node:child_process').spawn('sh', ['-c', `sleep 0.3; kill -INT ${process.pid}`])",
    'while (true) { spins++ }',
  ].join('\n'));
  assert.equal(failed(result).ename, 'KeyboardInterrupt');
  assert.ok(Number(await value(ex, 'spins')) > 1000);
});

test('an error thrown by a timer after its cell ended is reported on the running cell\'s stderr, and the kernel lives', () => {
  // A child process: node:test installs its own uncaughtException handler in this one.
  const executor = join(__dirname, '..', '..', '..', 'kernel', 'exec', 'executor.js');
  const script = `
    const { Executor } = require(${JSON.stringify(executor)});
    const ex = new Executor({ cwd: ${JSON.stringify(notebookDir())}, typeCheck: 'off' });
    const out = [];
    const hooks = { stdout: (t) => out.push(t), stderr: (t) => out.push('E:' + t), display() {}, clear() {},
      input: async () => '', signal: new AbortController().signal };
    (async () => {
      await ex.execute("setTimeout(() => { throw new RangeError('late') }, 5)", hooks);
      await ex.execute("void Promise.reject(new TypeError('unawaited'))", hooks);
      const r = await ex.execute('await new Promise((r) => setTimeout(r, 50))\\n"alive"', hooks);
      process.stdout.write(JSON.stringify({ value: r.value, out }));
    })();`;
  const result = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 }));
  assert.equal(result.value, 'alive');
  const text = result.out.join('');
  assert.match(text, /E:RangeError: late\n\s+at Timeout\._onTimeout \(cell\[1\]:1:\d+\)/);
  assert.match(text, /E:TypeError: unawaited/);
});
