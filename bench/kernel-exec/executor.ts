/**
 * What the TypeScript executor costs per cell, against its peer measured in the same run: the
 * same cell as plain JavaScript through `vm.runInThisContext` (what a JavaScript kernel such as
 * IJavascript does per cell, with no types, no checking and no kept declarations).
 *
 *   node dist/bench/kernel-exec/executor.js
 */
import { join } from 'node:path';
import * as vm from 'node:vm';
import { Executor, type ExecHooks } from '../../kernel/exec/executor.js';
import { packageRoot } from '../../lib/package_root';

const hooks: ExecHooks = {
  stdout() {}, stderr() {}, display() {}, clear() {},
  input: async () => '',
  signal: new AbortController().signal,
};

function stats(ms: number[]): { median: number; p99: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] };
}

async function time(n: number, f: (i: number) => unknown): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await f(i);
    out.push(performance.now() - t);
  }
  return out;
}

const fmt = (x: number) => (x < 10 ? x.toFixed(3) : x.toFixed(1));

async function main(): Promise<void> {
  const root = packageRoot();
  let t = performance.now();
  const ex = new Executor({ cwd: join(root, 'notebooks') });
  await ex.execute('1 + 1', hooks);
  const cold = performance.now() - t;

  const rows: [string, number[], number[]][] = [];
  await ex.execute('let counter = 0', hooks);
  rows.push(['same trivial cell `1 + 1`, ×1000', await time(1000, () => ex.execute('1 + 1', hooks)), await time(1000, () => vm.runInThisContext('1 + 1'))]);
  rows.push(['same cell `counter++`, ×1000', await time(1000, () => ex.execute('counter++', hooks)), await time(1000, () => vm.runInThisContext('globalThis.c = (globalThis.c ?? 0) + 1'))]);
  rows.push(['new cell each time `const v_i: number = i`, ×100 (type-checked)',
    await time(100, (i) => ex.execute(`const v_${i}: number = ${i}`, hooks)),
    await time(100, (i) => vm.runInThisContext(`var w_${i} = ${i}`))]);
  const complete = stats(await time(20, () => ex.complete('Math.', 5)));
  const inspect = stats(await time(20, () => ex.inspect('counter', 3, 0)));

  const m0 = (globalThis.gc?.(), process.memoryUsage().heapUsed);
  for (let i = 0; i < 10_000; i++) await ex.execute('counter++', hooks);
  globalThis.gc?.();
  const grown = (process.memoryUsage().heapUsed - m0) / 2 ** 20;

  console.log(`first cell (loads the TypeScript compiler and checks): ${cold.toFixed(0)} ms`);
  console.log('| cell | executor median / p99 (ms) | vm.runInThisContext median / p99 (ms) |');
  console.log('|---|---|---|');
  for (const [name, ours, peer] of rows) {
    const a = stats(ours);
    const b = stats(peer);
    console.log(`| ${name} | ${fmt(a.median)} / ${fmt(a.p99)} | ${fmt(b.median)} / ${fmt(b.p99)} |`);
  }
  console.log(`complete \`Math.\` (warm): median ${fmt(complete.median)} ms, p99 ${fmt(complete.p99)} ms`);
  console.log(`inspect (warm): median ${fmt(inspect.median)} ms, p99 ${fmt(inspect.p99)} ms`);
  console.log(`heap growth over 10,000 executions of one cell: ${grown.toFixed(1)} MiB${globalThis.gc ? '' : ' (run with --expose-gc for a settled figure)'}`);
}

void main();
