/**
 * CPU forward + backward tokens/s of a tiny Llama on tfjs (wasm with the BatchMatMul fix, and
 * cpu), against PyTorch (Debian python3-torch + OpenBLAS, OMP_NUM_THREADS=2) in the same run.
 *   npx tsc -p tsconfig.json --outDir build/model && node build/model/bench/model/train_step.js
 * Options (env): BENCH_LAYERS (2), BENCH_STEPS (5), BENCH_BACKENDS (wasm), PYTHON (/usr/bin/python3).
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setBackend, describeBackend } from '../../lib/backend';
import { LlamaForCausalLM } from '../../lib/model/llama';

const cfg = {
  hidden: 256, heads: 4, kvHeads: 4, layers: Number(process.env.BENCH_LAYERS ?? 2), vocab: 1024, intermediate: 688,
  batch: 4, seq: 128, steps: Number(process.env.BENCH_STEPS ?? 5), warmup: 2,
};

function torchPeer(): { ms_per_step: number; tokens_per_s: number; threads: number; torch: string } {
  const script = path.join(__dirname, '..', '..', '..', '..', 'bench', 'model', 'torch_step.py');
  const out = execFileSync(process.env.PYTHON ?? '/usr/bin/python3', [script, JSON.stringify(cfg)], {
    env: { ...process.env, OMP_NUM_THREADS: '2' },
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').pop()!);
}

async function tfjsStep(backend: string, checkpointing: boolean) {
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
  return { ms, tokensPerS: (cfg.batch * cfg.seq * 1000) / ms, activationMiB: (keptBytes - paramBytes) / 2 ** 20, report: describeBackend() };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main() {
  // The machine is shared: torch and tfjs alternate for several rounds and each reports its median.
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const backends = (process.env.BENCH_BACKENDS ?? 'wasm').split(',');
  const torchMs: number[] = [];
  const tfjsMs = new Map<string, number[]>();
  const kept = new Map<string, number>();
  let peerInfo = { threads: 0, torch: '' };
  for (let r = 0; r < rounds; r++) {
    const peer = torchPeer();
    torchMs.push(peer.ms_per_step);
    peerInfo = peer;
    for (const backend of backends) {
      for (const ckpt of [false, true]) {
        const key = `tfjs ${backend}${ckpt ? ' + gradient checkpointing' : ''}`;
        const res = await tfjsStep(backend, ckpt);
        tfjsMs.set(key, [...(tfjsMs.get(key) ?? []), res.ms]);
        kept.set(key, res.activationMiB);
      }
    }
  }
  const tokens = cfg.batch * cfg.seq;
  const t = median(torchMs);
  console.log(`config: ${JSON.stringify(cfg)}, ${rounds} alternating rounds, medians`);
  console.log('| implementation | ms/step (median) | tokens/s | vs torch | activations kept for backward |');
  console.log('|---|---|---|---|---|');
  console.log(`| torch ${peerInfo.torch} (${peerInfo.threads} threads, OpenBLAS) | ${t.toFixed(0)} (${torchMs.map((x) => x.toFixed(0)).join(', ')}) | ${((tokens * 1000) / t).toFixed(0)} | 1.00× | |`);
  for (const [key, ms] of tfjsMs) {
    const m = median(ms);
    console.log(`| ${key} | ${m.toFixed(0)} (${ms.map((x) => x.toFixed(0)).join(', ')}) | ${((tokens * 1000) / m).toFixed(0)} | ${(t / m).toFixed(2)}× | ${kept.get(key)!.toFixed(1)} MiB |`);
  }
  console.log(describeBackend());
}

main();
