/**
 * The kernel against Debian's ipykernel, measured in the same run over the same ZeroMQ client:
 * start to first idle, execute round trip (request sent → reply and idle received) over trivial
 * cells, and resident memory and (for qlora-ts) the live heap after a forced GC over many
 * executions. A third row is qlora-ts with its SIGINT addon off (QLORA_TS_INTERRUPT=breakOnSigint,
 * the fallback when the addon is not built). Starts and round trips alternate between the
 * kernels (blocks of 20 cells), so a change in the machine's load hits all of them alike.
 * Cells are sent as a notebook sends them (store_history true). A fourth row is the floor: a
 * process that answers with the same five signed messages and executes nothing
 * (bench/kernel/echo-kernel.ts). The client is the test client in its lean mode (no schema
 * validation, nothing kept), so its own work stays small and is the same for every row.
 *
 *   node dist/bench/kernel/kernel.bench.js [--cells 200] [--starts 5] [--memory 10000]
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { TestClient } from '../../test/kernel/client.js';
import { numberFlag } from '../common/args';

/** `heap`: a user expression that collects garbage and returns the live heap in bytes. */
interface Kernel { name: string; argv?: string[]; env?: Record<string, string>; cell: string; heap?: string; memory: boolean }

const KERNELS: Kernel[] = [
  { name: 'qlora-ts', cell: '1 + 1', heap: '(globalThis.gc(), process.memoryUsage().heapUsed)', memory: true },
  { name: 'ipykernel 6.17 (Debian)', argv: ['/usr/bin/python3', '-m', 'ipykernel_launcher', '-f', '{connection_file}'], cell: '1 + 1', memory: true },
  { name: 'qlora-ts, breakOnSigint (no addon)', env: { QLORA_TS_INTERRUPT: 'breakOnSigint' }, cell: '1 + 1', memory: false },
  // The machine's floor: the same five signed messages per cell from a process that executes nothing.
  { name: 'floor: echo kernel (wire protocol only)', argv: [process.execPath, join(__dirname, 'echo-kernel.js'), '{connection_file}'], cell: '1 + 1', memory: false },
];
async function liveHeapMiB(k: TestClient, expr: string | undefined): Promise<number> {
  if (!expr) return NaN;
  const ex = await k.execute('0', { silent: true, user_expressions: { heap: expr } });
  const r = (ex.reply.content.user_expressions as Record<string, { data?: Record<string, string> }>).heap;
  return Number(String(r.data?.['text/plain']).replace(/_/g, '')) / 2 ** 20;
}


const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function roundTrips(k: TestClient, cell: string, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await k.execute(cell);
    times.push(performance.now() - t);
  }
  return times;
}

async function start(spec: Kernel): Promise<TestClient> {
  const saved = { ...process.env };
  Object.assign(process.env, spec.env ?? {});
  try {
    return await TestClient.start({ argv: spec.argv, lean: true });
  } finally {
    for (const key of Object.keys(spec.env ?? {})) {
      if (saved[key] === undefined) delete process.env[key]; else process.env[key] = saved[key];
    }
  }
}

interface Result { start: number; median: number; p99: number; mem: number[]; heap: number[] }

async function measure(cells: number, starts: number, memory: number): Promise<Result[]> {
  const startTimes: number[][] = KERNELS.map(() => []);
  for (let i = 0; i < starts; i++) {
    for (const [j, spec] of KERNELS.entries()) {
      const k = await start(spec);
      startTimes[j].push(k.startMs);
      await k.close();
    }
  }
  const clients: TestClient[] = [];
  try {
    for (const spec of KERNELS) clients.push(await start(spec));
    // Warm-up: the first cells load the compiler / IPython machinery.
    for (const [j, k] of clients.entries()) await roundTrips(k, KERNELS[j].cell, 20);
    const times: number[][] = KERNELS.map(() => []);
    for (let done = 0; done < cells; done += 20) {
      for (const [j, k] of clients.entries()) times[j].push(...await roundTrips(k, KERNELS[j].cell, Math.min(20, cells - done)));
    }
    const results: Result[] = [];
    for (const [j, k] of clients.entries()) {
      const spec = KERNELS[j];
      const mem: number[] = [rssMiB(k.proc.pid!)];
      const heap: number[] = [await liveHeapMiB(k, spec.heap)];
      const step = Math.max(1, Math.floor(memory / 5));
      for (let done = 0; spec.memory && done < memory; done += step) {
        await roundTrips(k, spec.cell, Math.min(step, memory - done));
        mem.push(rssMiB(k.proc.pid!));
        heap.push(await liveHeapMiB(k, spec.heap));
      }
      results.push({ start: quantile(startTimes[j], 0.5), median: quantile(times[j], 0.5), p99: quantile(times[j], 0.99), mem, heap });
    }
    return results;
  } finally {
    for (const k of clients) await k.close();
  }
}

/** Spawn-to-exit of a bare interpreter: the floor under any start time on this machine now. */
function bareStart(argv: string[], n: number): number {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    spawnSync(argv[0], argv.slice(1));
    times.push(performance.now() - t);
  }
  return quantile(times, 0.5);
}

const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

async function main(): Promise<void> {
  const cells = numberFlag('cells', 200), starts = numberFlag('starts', 5), memory = numberFlag('memory', 10_000);
  // Lets the heap probe force a collection in the TypeScript kernel (spawned with this env).
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --expose-gc`.trim();
  const loadBefore = load();
  const results = await measure(cells, starts, memory);
  const loadAfter = load();
  console.log(`execute round trip over ${cells} trivial cells (\`1 + 1\`), start = median of ${starts} starts, ` +
    `RSS every ${memory / 5} executions; load average (1, 5, 15 min) before: ${loadBefore}, after: ${loadAfter}`);
  console.log('| kernel | start to first idle (ms) | round trip median (ms) | p99 (ms) | RSS over executions (MiB) | live heap after GC (MiB) |');
  console.log('|---|---|---|---|---|---|');
  for (const [j, r] of results.entries()) {
    const heap = r.heap.every(Number.isNaN) ? 'n/a' : r.heap.map((m) => m.toFixed(1)).join(' → ');
    const mem = r.mem.length > 1 ? r.mem.map((m) => m.toFixed(0)).join(' → ') : 'not run';
    console.log(`| ${KERNELS[j].name} | ${r.start.toFixed(0)} | ${r.median.toFixed(2)} | ${r.p99.toFixed(2)} | ${mem} | ${heap} |`);
  }
  console.log(`bare interpreter start (spawn to exit, median of ${starts}): node -e 0 ${bareStart([process.execPath, '-e', '0'], starts).toFixed(0)} ms, ` +
    `python3 -c pass ${bareStart(['/usr/bin/python3', '-c', 'pass'], starts).toFixed(0)} ms`);
  const [ours, peer, fallback, floor] = results;
  console.log(`ratios qlora-ts / ipykernel: start ${(ours.start / peer.start).toFixed(2)}, median ${(ours.median / peer.median).toFixed(2)}, ` +
    `p99 ${(ours.p99 / peer.p99).toFixed(2)}; addon / breakOnSigint: median ${(ours.median / fallback.median).toFixed(2)}, p99 ${(ours.p99 / fallback.p99).toFixed(2)}`);
  console.log(`above the floor (qlora-ts − echo kernel): median ${(ours.median - floor.median).toFixed(2)} ms, p99 ${(ours.p99 - floor.p99).toFixed(2)} ms`);
  const heapGrowth = ours.heap.at(-1)! - ours.heap[1];
  console.log(`goals: median ≤ 1 ms ${ours.median <= 1 ? 'met' : 'NOT met'} (${ours.median.toFixed(2)}), ` +
    `p99 ≤ 3 ms ${ours.p99 <= 3 ? 'met' : 'NOT met'} (${ours.p99.toFixed(2)}), start ≤ 400 ms ${ours.start <= 400 ? 'met' : 'NOT met'} (${ours.start.toFixed(0)}), ` +
    `live heap after the first ${memory / 5} executions grew ${heapGrowth.toFixed(1)} MiB over the next ${memory - memory / 5}`);
}

void main();
