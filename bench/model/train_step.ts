/**
 * CPU forward + backward tokens/s of a tiny Llama on tfjs (the wasm backend with its matmuls on
 * OpenBLAS, the default where the addon is built; and on XNNPACK alone, 1 and 2 threads), against
 * PyTorch (Debian python3-torch + OpenBLAS) in the same run.
 *   npx tsc -p tsconfig.json --outDir build/model && node build/model/bench/model/train_step.js
 * Every measurement is its own process (threads are fixed when wasm starts); torch and tfjs
 * alternate for BENCH_ROUNDS rounds and each row reports its median, with the load average.
 * Options (env): BENCH_ROUNDS (3), BENCH_LAYERS (2), BENCH_STEPS (5), BENCH_VARIANTS (blas,
 * blas-ckpt, xnnpack, xnnpack-2 by default; also blas-2, blas-unfused, cpu: the tfjs rows), BENCH_TORCH_THREADS
 * (2,1: OMP_NUM_THREADS of the peer rows), BENCH_CORETYPES (env: OpenBLAS's kernels for torch and
 * tfjs alike, `env` = as the environment says, else an OPENBLAS_CORETYPE value such as SKYLAKEX
 * given to both), PYTHON (/usr/bin/python3).
 */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setBackend, describeBackend } from '../../lib/backend';
import { LlamaForCausalLM } from '../../lib/model/llama';
import { packageRoot } from '../../lib/package_root';

const cfg = {
  hidden: 256, heads: 4, kvHeads: 4, layers: Number(process.env.BENCH_LAYERS ?? 2), vocab: 1024, intermediate: 688,
  batch: 4, seq: 128, steps: Number(process.env.BENCH_STEPS ?? 5), warmup: 2,
};
const list = (name: string, fallback: string) => (process.env[name] ?? fallback).split(',').filter(Boolean);

function torchPeer(threads: string, extra: Record<string, string>): { ms_per_step: number; torch: string } {
  const script = path.join(packageRoot(), 'bench', 'model', 'torch_step.py');
  const out = execFileSync(process.env.PYTHON ?? '/usr/bin/python3', [script, JSON.stringify(cfg)], {
    env: { ...process.env, ...extra, OMP_NUM_THREADS: threads },
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').pop()!);
}

interface TfjsResult { ms: number; activationMiB: number; report: string }

/** The tfjs rows: backend, environment, gradient checkpointing. */
const VARIANTS: Record<string, { label: string; backend: string; env: Record<string, string>; checkpointing: boolean }> = {
  'blas': { label: 'tfjs wasm, matmuls on OpenBLAS + native fused kernels (1 thread)', backend: 'wasm', env: {}, checkpointing: false },
  'blas-unfused': { label: 'tfjs wasm, matmuls on OpenBLAS, no native fused kernels (QLORA_TS_FUSED=0)', backend: 'wasm', env: { QLORA_TS_FUSED: '0' }, checkpointing: false },
  'blas-2': { label: 'tfjs wasm, OpenBLAS with 2 threads (QLORA_TS_BLAS_THREADS=2) + native fused kernels', backend: 'wasm', env: { QLORA_TS_BLAS_THREADS: '2' }, checkpointing: false },
  'blas-ckpt': { label: 'tfjs wasm, OpenBLAS + gradient checkpointing', backend: 'wasm', env: {}, checkpointing: true },
  'xnnpack': { label: 'tfjs wasm, XNNPACK only, 1 thread', backend: 'wasm', env: { QLORA_TS_BLAS: '0' }, checkpointing: false },
  'xnnpack-2': { label: 'tfjs wasm, XNNPACK only, 2 threads', backend: 'wasm', env: { QLORA_TS_BLAS: '0', QLORA_TS_WASM_THREADS: '2' }, checkpointing: false },
  'cpu': { label: 'tfjs cpu', backend: 'cpu', env: {}, checkpointing: false },
};

/** One tfjs configuration in a child process (this file with `--tfjs backend checkpointing`). */
function tfjsPeer(backend: string, env: Record<string, string>, checkpointing: boolean): TfjsResult {
  const out = execFileSync(process.execPath, [__filename, '--tfjs', backend, checkpointing ? '1' : '0'], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').pop()!);
}

async function tfjsStep(backend: string, checkpointing: boolean): Promise<TfjsResult> {
  await setBackend(backend);
  const model = LlamaForCausalLM.fromConfig({
    vocabSize: cfg.vocab, hiddenSize: cfg.hidden, intermediateSize: cfg.intermediate, numHiddenLayers: cfg.layers,
    numAttentionHeads: cfg.heads, numKeyValueHeads: cfg.kvHeads, maxPositionEmbeddings: cfg.seq,
  }, { seed: 0 });
  if (checkpointing) model.gradientCheckpointingEnable();
  const ids = Array.from({ length: cfg.batch }, (_, b) => Array.from({ length: cfg.seq }, (_, t) => (b * 131 + t * 17) % cfg.vocab));
  let keptBytes = 0;
  const step = async () => {
    const { value, grads } = tf.variableGrads(() => {
      const loss = model.forward({ inputIds: ids, labels: ids }).loss!;
      keptBytes = tf.memory().numBytes;
      return loss;
    });
    await value.data();
    tf.dispose([value, ...Object.values(grads)]);
  };
  for (let i = 0; i < cfg.warmup; i++) await step();
  const t0 = performance.now();
  for (let i = 0; i < cfg.steps; i++) await step();
  const ms = (performance.now() - t0) / cfg.steps;
  const paramBytes = model.getMemoryFootprint();
  model.dispose();
  return { ms, activationMiB: (keptBytes - paramBytes) / 2 ** 20, report: describeBackend() };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main() {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const torchThreads = list('BENCH_TORCH_THREADS', '2,1');
  const coretypes = list('BENCH_CORETYPES', 'env');
  const variants = list('BENCH_VARIANTS', 'blas,blas-ckpt,xnnpack,xnnpack-2').map((v) => {
    if (!VARIANTS[v]) throw new Error(`BENCH_VARIANTS: unknown variant '${v}'; choose from ${Object.keys(VARIANTS).join(', ')}`);
    return VARIANTS[v];
  });
  const times = new Map<string, number[]>();
  const kept = new Map<string, number>();
  const add = (key: string, ms: number) => times.set(key, [...(times.get(key) ?? []), ms]);
  const loads: number[] = [os.loadavg()[0]];
  let torchVersion = '';
  const coreEnv = (c: string): Record<string, string> => (c === 'env' ? {} : { OPENBLAS_CORETYPE: c });
  const coreLabel = (c: string) => (c === 'env' ? `OpenBLAS kernels as the environment says (OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? 'unset'})` : `OPENBLAS_CORETYPE=${c} for both`);
  const reports: string[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const c of coretypes) {
      for (const threads of torchThreads) {
        const peer = torchPeer(threads, coreEnv(c));
        torchVersion = peer.torch;
        add(`${c}|torch ${peer.torch} + OpenBLAS, OMP_NUM_THREADS=${threads}`, peer.ms_per_step);
      }
      for (const v of variants) {
        const res = tfjsPeer(v.backend, { ...coreEnv(c), ...v.env }, v.checkpointing);
        add(`${c}|${v.label}`, res.ms);
        kept.set(`${c}|${v.label}`, res.activationMiB);
        if (v.backend === 'wasm' && !v.env.QLORA_TS_BLAS && !v.env.QLORA_TS_FUSED && !reports.includes(res.report)) reports.push(res.report);
      }
    }
    loads.push(os.loadavg()[0]);
  }
  const tokens = cfg.batch * cfg.seq;
  console.log(`config: ${JSON.stringify(cfg)}, ${rounds} alternating rounds, medians; 1-min load average ${loads.map((l) => l.toFixed(1)).join(' → ')}`);
  for (const c of coretypes) {
    console.log(`\n${coreLabel(c)}`);
    const peers = torchThreads.map((t) => median(times.get(`${c}|torch ${torchVersion} + OpenBLAS, OMP_NUM_THREADS=${t}`)!));
    console.log(`| implementation | ms/step (median; rounds) | tokens/s | ${torchThreads.map((t) => `vs torch OMP=${t}`).join(' | ')} | activations kept for backward |`);
    console.log(`|---|---|---|${torchThreads.map(() => '---|').join('')}---|`);
    for (const [key, ms] of times) {
      if (!key.startsWith(`${c}|`)) continue;
      const m = median(ms);
      const k = kept.get(key);
      const ratios = peers.map((p) => `${(p / m).toFixed(2)}×`).join(' | ');
      console.log(`| ${key.slice(c.length + 1)} | ${m.toFixed(0)} (${ms.map((x) => x.toFixed(0)).join(', ')}) | ${((tokens * 1000) / m).toFixed(0)} | ${ratios} | ${k === undefined ? '' : `${k.toFixed(1)} MiB`} |`);
    }
  }
  for (const r of reports) console.log(r);
}

if (process.argv[2] === '--tfjs') {
  tfjsStep(process.argv[3], process.argv[4] === '1').then((r) => console.log(JSON.stringify(r)));
} else {
  main();
}
