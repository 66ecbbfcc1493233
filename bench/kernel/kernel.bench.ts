/**
 * The kernel against Debian's ipykernel, measured in the same run over the same ZeroMQ client:
 * start to first idle, execute round trip (request sent → reply and idle received) over trivial
 * cells, and resident memory and (for qlora-ts) the live heap after a forced GC over many executions.
 *
 *   node dist/bench/kernel/kernel.bench.js [--cells 200] [--starts 5] [--memory 10000]
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { TestClient } from '../../test/kernel/client.js';

/** `heap`: a user expression that collects garbage and returns the live heap in bytes. */
interface Kernel { name: string; argv?: string[]; cell: string; heap?: string }

const KERNELS: Kernel[] = [
  { name: 'qlora-ts', cell: '1 + 1', heap: '(globalThis.gc(), process.memoryUsage().heapUsed)' },
  { name: 'ipykernel 6.17 (Debian)', argv: ['/usr/bin/python3', '-m', 'ipykernel_launcher', '-f', '{connection_file}'], cell: '1 + 1' },
];

async function liveHeapMiB(k: TestClient, expr: string | undefined): Promise<number> {
  if (!expr) return NaN;
  const ex = await k.execute('0', { silent: true, user_expressions: { heap: expr } });
  const r = (ex.reply.content.user_expressions as Record<string, { data?: Record<string, string> }>).heap;
  return Number(String(r.data?.['text/plain']).replace(/_/g, '')) / 2 ** 20;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
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
    await k.execute(cell, { store_history: false });
    times.push(performance.now() - t);
  }
  return times;
}

async function measure(spec: Kernel, cells: number, starts: number, memory: number) {
  const startTimes: number[] = [];
  for (let i = 0; i < starts; i++) {
    const k = await TestClient.start({ argv: spec.argv });
    startTimes.push(k.startMs);
    await k.close();
  }
  const k = await TestClient.start({ argv: spec.argv });
  try {
    await roundTrips(k, spec.cell, 20); // warm-up: first cells load the compiler / IPython machinery
    const rt = await roundTrips(k, spec.cell, cells);
    const mem: number[] = [rssMiB(k.proc.pid!)];
    const heap: number[] = [await liveHeapMiB(k, spec.heap)];
    const step = Math.max(1, Math.floor(memory / 5));
    for (let done = 0; done < memory; done += step) {
      await roundTrips(k, spec.cell, Math.min(step, memory - done));
      mem.push(rssMiB(k.proc.pid!));
      heap.push(await liveHeapMiB(k, spec.heap));
    }
    return { start: quantile(startTimes, 0.5), median: quantile(rt, 0.5), p99: quantile(rt, 0.99), mem, heap };
  } finally {
    await k.close();
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

async function main(): Promise<void> {
  const cells = arg('cells', 200), starts = arg('starts', 5), memory = arg('memory', 10_000);
  // Lets the heap probe force a collection in the TypeScript kernel (spawned with this env).
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --expose-gc`.trim();
  const rows: string[] = [];
  const results = [];
  for (const spec of KERNELS) {
    const r = await measure(spec, cells, starts, memory);
    results.push(r);
    const heap = r.heap.every(Number.isNaN) ? 'n/a' : r.heap.map((m) => m.toFixed(1)).join(' → ');
    rows.push(`| ${spec.name} | ${r.start.toFixed(0)} | ${r.median.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.mem.map((m) => m.toFixed(0)).join(' → ')} | ${heap} |`);
  }
  const [ours, peer] = results;
  console.log(`execute round trip over ${cells} trivial cells, start = median of ${starts} starts, RSS every ${memory / 5} executions (MiB)`);
  console.log('| kernel | start to first idle (ms) | round trip median (ms) | p99 (ms) | RSS over executions (MiB) | live heap after GC (MiB) |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
  console.log(`bare interpreter start (spawn to exit, median of ${starts}): node -e 0 ${bareStart([process.execPath, '-e', '0'], starts).toFixed(0)} ms, ` +
    `python3 -c pass ${bareStart(['/usr/bin/python3', '-c', 'pass'], starts).toFixed(0)} ms`);
  console.log(`ratios qlora-ts / ipykernel: start ${(ours.start / peer.start).toFixed(2)}, median ${(ours.median / peer.median).toFixed(2)}, p99 ${(ours.p99 / peer.p99).toFixed(2)}`);
}

void main();
