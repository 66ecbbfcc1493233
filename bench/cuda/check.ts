/**
 * Kernel-level check and micro-benchmark of the `cuda` backend, run on the GPU machine:
 * every native kernel against the CPU backend on fresh random inputs (and matmul against a
 * float64 reference), a CPU-forwarded kernel, a gradient through several kernels, then GEMM
 * throughput. Prints a table; exits 1 on any mismatch.
 *
 *   node dist/bench/cuda/check.js
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs'; // registers tfjs's gradients
import '@tensorflow/tfjs-backend-cpu';
import { registerCudaBackend, CudaBackend } from '../../lib/backend/cuda';
import { dequantize4bitOp } from '../../lib/quant/dequantize_op';

type Case = { name: string; run: () => tf.Tensor; tol: number };

function maxRelErr(a: Float32Array | Int32Array | Uint8Array, b: Float32Array | Int32Array | Uint8Array): number {
  let err = 0;
  for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return err;
}

async function onBackend(name: string, f: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(name);
  tf.setBackend(name);
  const t = f();
  const v = (await t.data()) as Float32Array;
  t.dispose();
  return v;
}

function seeded(shape: number[], seed: number, positive = false): tf.Tensor {
  const t = tf.randomUniform(shape, positive ? 0.1 : -2, 2, 'float32', seed);
  return t;
}

async function main(): Promise<void> {
  tf.enableProdMode();
  const reg = registerCudaBackend();
  if (!reg.ok) {
    console.error(`cuda backend unavailable: ${reg.reason}`);
    process.exit(1);
  }
  process.env.QLORA_TS_CUDA_QUIET = '1';
  const cases: Case[] = [];
  const bin = { add: tf.add, sub: tf.sub, mul: tf.mul, div: tf.div, maximum: tf.maximum, minimum: tf.minimum, squaredDifference: tf.squaredDifference };
  for (const [n, op] of Object.entries(bin)) {
    cases.push({ name: `${n} (4,5,6)+(6)`, run: () => op(seeded([4, 5, 6], 1), seeded([6], 2, true)), tol: 1e-5 });
    cases.push({ name: `${n} (4,1,6)+(1,5,1)`, run: () => op(seeded([4, 1, 6], 3), seeded([1, 5, 1], 4, true)), tol: 1e-5 });
  }
  cases.push({ name: 'pow', run: () => tf.pow(seeded([100], 5, true), seeded([100], 6)), tol: 1e-4 });
  const un = { neg: tf.neg, exp: tf.exp, sigmoid: tf.sigmoid, tanh: tf.tanh, relu: tf.relu, abs: tf.abs, square: tf.square, sin: tf.sin, cos: tf.cos, erf: tf.erf };
  for (const [n, op] of Object.entries(un)) cases.push({ name: n, run: () => op(seeded([1000], 7)), tol: 1e-5 });
  const pos = { log: tf.log, sqrt: tf.sqrt, rsqrt: tf.rsqrt, reciprocal: tf.reciprocal };
  for (const [n, op] of Object.entries(pos)) cases.push({ name: n, run: () => op(seeded([1000], 8, true)), tol: 1e-5 });
  cases.push({ name: 'sum axis -1', run: () => tf.sum(seeded([8, 300], 9), -1), tol: 1e-4 });
  cases.push({ name: 'sum axis 0', run: () => tf.sum(seeded([300, 8], 10), 0), tol: 1e-4 });
  cases.push({ name: 'mean [0,2] keepDims', run: () => tf.mean(seeded([6, 7, 8], 11), [0, 2], true), tol: 1e-4 });
  cases.push({ name: 'max axis 1', run: () => tf.max(seeded([6, 7, 8], 12), 1), tol: 0 });
  cases.push({ name: 'min all', run: () => tf.min(seeded([6, 7, 8], 13)), tol: 0 });
  cases.push({ name: 'softmax (4,1000)', run: () => tf.softmax(seeded([4, 1000], 14)), tol: 1e-5 });
  cases.push({ name: 'transpose [2,0,1]', run: () => tf.transpose(seeded([3, 4, 5], 15), [2, 0, 1]), tol: 0 });
  cases.push({ name: 'fill', run: () => tf.fill([3, 3], 2.5), tol: 0 });
  cases.push({ name: 'reshape+add', run: () => tf.add(tf.reshape(seeded([6, 4], 16), [4, 6]), 1), tol: 1e-6 });
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
    cases.push({ name: `matMul (3,33,65)x(3,65,17) tA=${ta} tB=${tb}`, run: () => {
      const a = seeded([3, 33, 65], 17), b = seeded([3, 65, 17], 18);
      return tf.matMul(ta ? tf.transpose(a, [0, 2, 1]) : a, tb ? tf.transpose(b, [0, 2, 1]) : b, ta, tb);
    }, tol: 1e-5 });
  }
  cases.push({ name: 'matMul broadcast batch (1,8,16)x(4,16,8)', run: () => tf.matMul(seeded([1, 8, 16], 19), seeded([4, 16, 8], 20)), tol: 1e-5 });
  const ids = () => tf.tensor2d([[3, 1, 9], [0, 9, 3]], [2, 3], 'int32');
  cases.push({ name: 'gather axis 0 ids (2,3)', run: () => tf.gather(seeded([10, 4], 21), ids()), tol: 0 });
  cases.push({ name: 'gather axis 1', run: () => tf.gather(seeded([2, 10, 4], 21), ids(), 1), tol: 0 });
  cases.push({ name: 'unsortedSegmentSum (grad of gather)', run: () => tf.grad((x: tf.Tensor) => tf.sum(tf.square(tf.gather(x, ids()))))(seeded([10, 4], 40)), tol: 1e-5 });
  cases.push({ name: 'unsortedSegmentSum 600 rows → 7', run: () => tf.unsortedSegmentSum(seeded([600, 33], 41), tf.tensor1d(Array.from({ length: 600 }, (_, i) => (i * 5) % 7), 'int32'), 7), tol: 1e-4 });
  cases.push({ name: 'oneHot (2,3)×12', run: () => tf.oneHot(ids(), 12, 2, -1, 'float32'), tol: 0 });
  cases.push({ name: 'oneHot int32 → cast float32', run: () => tf.cast(tf.oneHot(ids(), 12), 'float32'), tol: 0 });
  cases.push({ name: 'oneHot int32 read', run: () => tf.oneHot(ids(), 12), tol: 0 });
  cases.push({ name: 'slice (5,6,7) [1,0,2] size [3,-1,4]', run: () => tf.slice(seeded([5, 6, 7], 42), [1, 0, 2], [3, -1, 4]), tol: 0 });
  cases.push({ name: 'concat axis 1', run: () => tf.concat([seeded([2, 3], 22), seeded([2, 5], 23)], 1), tol: 0 });
  cases.push({ name: 'concat axis 0 (3-D)', run: () => tf.concat([seeded([2, 3, 4], 22), seeded([1, 3, 4], 23)], 0), tol: 0 });
  cases.push({ name: 'stack axis 1', run: () => tf.stack([seeded([2, 3], 22), seeded([2, 3], 23)], 1), tol: 0 });
  cases.push({ name: 'split [2,5] axis 1 (second)', run: () => tf.split(seeded([3, 7, 2], 43), [2, 5], 1)[1], tol: 0 });
  cases.push({ name: 'where (2,3) mask', run: () => tf.where(tf.greater(seeded([2, 3], 44), 0), seeded([2, 3], 45), seeded([2, 3], 46)), tol: 0 });
  cases.push({ name: 'pad [[1,2],[0,3]] 0.5', run: () => tf.pad(seeded([3, 4], 47), [[1, 2], [0, 3]], 0.5), tol: 0 });
  cases.push({ name: 'tile [2,3]', run: () => tf.tile(seeded([3, 4], 48), [2, 3]), tol: 0 });
  cases.push({ name: 'cast int32→float32→int32', run: () => tf.cast(tf.cast(tf.mul(seeded([50], 49), 10), 'int32'), 'float32'), tol: 0 });
  cases.push({ name: 'zerosLike+onesLike', run: () => tf.add(tf.zerosLike(seeded([4], 50)), tf.onesLike(seeded([4], 51))), tol: 0 });
  for (const nested of [false, true]) {
    for (const transpose of [false, true]) {
      cases.push({ name: `Dequantize4bit nested=${nested} transpose=${transpose}`, run: () => {
        const [rows, cols] = [48, 40];
        const nBlocks = (rows * cols) / 64;
        const words = tf.tensor1d(Array.from({ length: (rows * cols) / 8 }, (_, i) => (Math.imul(i + 1, 2654435761) | 0)), 'int32');
        const code = tf.tensor1d(Array.from({ length: 16 }, (_, i) => (i - 7.5) / 7.5));
        const absmax = nested ? tf.tensor1d(Array.from({ length: Math.ceil(nBlocks / 4) }, (_, i) => Math.imul(i + 3, 40503) | 0), 'int32')
          : tf.tensor1d(Array.from({ length: nBlocks }, (_, i) => 0.5 + i / 10));
        const nestedAbsmax = nested ? tf.tensor1d([0.7, 1.3]) : undefined;
        const nestedCode = nested ? tf.tensor1d(Array.from({ length: 256 }, (_, i) => i / 255)) : undefined;
        return dequantize4bitOp({ packed: words, code, absmax, nestedAbsmax, nestedCode },
          { shape: [rows, cols], blocksize: 64, transpose, nested, nestedBlocksize: 16, offset: 0.25 });
      }, tol: 1e-6 });
    }
  }
  cases.push({ name: 'grad of sum(softmax(x·w)²)', run: () => {
    const x = seeded([4, 16], 24), w = seeded([16, 32], 25);
    return tf.grad((ww: tf.Tensor) => tf.sum(tf.square(tf.softmax(tf.matMul(x, ww)))))(w);
  }, tol: 1e-4 });

  // Compare matmuls in plain fp32 (TF32, the default, rounds inputs to 10 mantissa bits).
  await tf.setBackend('cuda');
  (tf.backend() as unknown as CudaBackend).allowTf32 = false;
  let failed = 0;
  console.log('case'.padEnd(48), 'max err/max(1,|ref|)', 'ok');
  for (const c of cases) {
    const ref = await onBackend('cpu', c.run);
    const got = await onBackend('cuda', c.run);
    const err = maxRelErr(got, ref);
    const ok = got.length === ref.length && err <= Math.max(c.tol, 1e-6) * 10;
    if (!ok) failed++;
    console.log(c.name.padEnd(48), err.toExponential(2).padStart(20), ok ? 'ok' : 'MISMATCH');
  }

  // bf16 matmul inputs: error against the fp32 result stays at bf16's rounding (2^-8 relative per input).
  {
    const be = tf.backend() as unknown as CudaBackend;
    const run = () => tf.matMul(seeded([2, 64, 256], 60), seeded([2, 256, 48], 61));
    be.bf16Matmul = false;
    const ref = await onBackend('cuda', run);
    be.bf16Matmul = true;
    const got = await onBackend('cuda', run);
    be.bf16Matmul = false;
    let num = 0, den = 0;
    for (let i = 0; i < ref.length; i++) { num += (got[i] - ref[i]) ** 2; den += ref[i] ** 2; }
    const rel = Math.sqrt(num / den);
    const ok = rel < 1e-2;
    if (!ok) failed++;
    cases.push({ name: 'bf16', run, tol: 0 });
    console.log('matMul bf16 inputs vs fp32 (relative L2)'.padEnd(48), rel.toExponential(2).padStart(20), ok ? 'ok' : 'MISMATCH');
  }

  // GEMM throughput (one sync at the end of each loop).
  await tf.setBackend('cuda');
  const backend = tf.backend() as unknown as CudaBackend;
  console.log('\nGEMM n³        mode   TFLOP/s');
  for (const n of [4096, 8192]) {
    for (const mode of ['fp32', 'tf32', 'bf16']) {
      backend.allowTf32 = mode === 'tf32';
      backend.bf16Matmul = mode === 'bf16';
      const a = tf.randomNormal([n, n]), b = tf.randomNormal([n, n]);
      tf.matMul(a, b).dispose();
      backend.addon.sync();
      const iters = n === 4096 ? 20 : 5;
      const t0 = performance.now();
      for (let i = 0; i < iters; i++) tf.matMul(a, b).dispose();
      backend.addon.sync();
      const s = (performance.now() - t0) / 1000;
      console.log(`${String(n).padEnd(14)} ${mode}  ${((2 * n ** 3 * iters) / s / 1e12).toFixed(1).padStart(7)}`);
      a.dispose(); b.dispose();
    }
  }
  backend.allowTf32 = true;
  backend.bf16Matmul = false;
  console.log(`\n${cases.length - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

void main();
