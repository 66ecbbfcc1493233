/**
 * Attention kernels alone on the cuda backend, at the benchmarks' shapes (Llama-3-8B 4 × 512,
 * Llama-3.2-1B 8 × 512: causal, GQA with 8 KV heads): the flash kernels against the GEMM +
 * softmax path that keeps the (B, H, T, S) probabilities (QLORA_TS_CUDA_FLASH=0), both with bf16
 * matmuls, in one process. Per path: forward and backward milliseconds (mean of the timed calls,
 * one sync after each pass), TFLOP/s counting the causal half (forward 2 GEMMs, backward 2.5× the
 * forward's), and the device memory the forward leaves for the backward.
 *
 *   node dist/bench/cuda/attention.js [--iters 20] [--paths probs,flash] [--json FILE]
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { flag, numberFlag } from '../common/args';
import { useCudaBackend } from './setup';
import { deviceRandom } from '../../lib/backend/cuda/random';
import { FUSED_ATTENTION, FUSED_ATTENTION_GRAD, buildAttentionMask } from '../../lib/nn/attention';

const SHAPES = [
  { name: '8b 4x512', B: 4, H: 32, Hkv: 8, T: 512, D: 128 },
  { name: '1b 8x512', B: 8, H: 32, Hkv: 8, T: 512, D: 64 },
];

async function main(): Promise<void> {
  const backend = await useCudaBackend();
  backend.bf16Matmul = true;
  const iters = numberFlag('iters', 20);
  const rows: Array<Record<string, unknown>> = [];
  console.log('shape      path   fwd ms  fwd TFLOP/s  bwd ms  bwd TFLOP/s  kept MiB');
  for (const { name, B, H, Hkv, T, D } of SHAPES) {
    const q = deviceRandom([B, H, T, D], 'normal', 1), k = deviceRandom([B, Hkv, T, D], 'normal', 2), v = deviceRandom([B, Hkv, T, D], 'normal', 3);
    const dout = deviceRandom([B, H, T, D], 'normal', 4);
    const mask = buildAttentionMask(Array.from({ length: B }, () => Array(T).fill(1)), T);
    const attrs = { scale: 1 / Math.sqrt(D), causal: true };
    const fwdFlops = (4 * B * H * T * T * D) / 2;
    for (const path of (flag('paths') ?? 'probs,flash').split(',')) {
      process.env.QLORA_TS_CUDA_FLASH = path === 'flash' ? '1' : '0';
      const forward = () => tf.engine().runKernel(FUSED_ATTENTION, { q, k, v, mask }, attrs) as tf.Tensor[];
      const backward = (out: tf.Tensor, probs: tf.Tensor) => tf.engine().runKernel(FUSED_ATTENTION_GRAD, { dout, q, k, v, probs, out, mask }, attrs) as tf.Tensor[];
      tf.dispose([...backward(...(forward() as [tf.Tensor, tf.Tensor])), ...forward()]); // warm-up (scratch, shared-memory limits)
      backend.addon.sync();
      const before = backend.addon.memoryStats().allocated;
      let fwdMs = 0, bwdMs = 0, keptMiB = 0;
      for (let i = 0; i < iters; i++) {
        let t0 = performance.now();
        const [out, probs] = forward();
        backend.addon.sync();
        fwdMs += performance.now() - t0;
        keptMiB = (backend.addon.memoryStats().allocated - before) / 2 ** 20;
        t0 = performance.now();
        const grads = backward(out, probs);
        backend.addon.sync();
        bwdMs += performance.now() - t0;
        tf.dispose([out, probs, ...grads]);
      }
      [fwdMs, bwdMs] = [fwdMs / iters, bwdMs / iters];
      const row = { shape: name, B, H, Hkv, T, D, path, fwdMs: +fwdMs.toFixed(3), bwdMs: +bwdMs.toFixed(3),
        fwdTflops: +(fwdFlops / fwdMs / 1e9).toFixed(1), bwdTflops: +((2.5 * fwdFlops) / bwdMs / 1e9).toFixed(1), keptMiB: +keptMiB.toFixed(1) };
      rows.push(row);
      console.log(`${name.padEnd(10)} ${path.padEnd(5)} ${row.fwdMs.toFixed(3).padStart(7)} ${String(row.fwdTflops).padStart(12)} ${row.bwdMs.toFixed(3).padStart(7)} ${String(row.bwdTflops).padStart(12)} ${String(row.keptMiB).padStart(9)}`);
    }
    tf.dispose([q, k, v, dout, mask]);
  }
  delete process.env.QLORA_TS_CUDA_FLASH;
  const json = (flag('json') ?? '');
  if (json) fs.appendFileSync(json, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

void main();
