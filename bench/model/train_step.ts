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

async function main() {
  // The peer runs before and after tfjs; its faster run is the reference (the machine is shared).
  const first = torchPeer();
  const rows: string[] = [];
  for (const backend of (process.env.BENCH_BACKENDS ?? 'wasm').split(',')) {
    for (const ckpt of [false, true]) {
      const r = await tfjsStep(backend, ckpt);
      rows.push(`| tfjs ${backend}${ckpt ? ' + gradient checkpointing' : ''} | ${r.ms.toFixed(0)} | ${r.tokensPerS.toFixed(0)} | RATIO${r.tokensPerS} | ${r.activationMiB.toFixed(1)} MiB |`);
    }
  }
  const second = torchPeer();
  const peer = first.tokens_per_s >= second.tokens_per_s ? first : second;
  console.log(`config: ${JSON.stringify(cfg)}`);
  console.log(`| implementation | ms/step | tokens/s | vs torch | bytes kept for backward |`);
  console.log(`|---|---|---|---|---|`);
  console.log(`| torch ${peer.torch} (${peer.threads} threads, OpenBLAS; best of 2 runs: ${first.ms_per_step.toFixed(0)}, ${second.ms_per_step.toFixed(0)} ms) | ${peer.ms_per_step.toFixed(0)} | ${peer.tokens_per_s.toFixed(0)} | 1.00× | |`);
  for (const row of rows) console.log(row.replace(/RATIO([0-9.e+-]+)/, (_, t) => `${(Number(t) / peer.tokens_per_s).toFixed(2)}×`));
  console.log(describeBackend());
}

main();
