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
  cases.push({ name: 'gather (CPU-forwarded)', run: () => tf.gather(seeded([10, 4], 21), tf.tensor1d([3, 1, 9], 'int32')), tol: 0 });
  cases.push({ name: 'concat (CPU-forwarded)', run: () => tf.concat([seeded([2, 3], 22), seeded([2, 5], 23)], 1), tol: 0 });
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

  // GEMM throughput (one sync at the end of each loop).
  await tf.setBackend('cuda');
  const backend = tf.backend() as unknown as CudaBackend;
  console.log('\nGEMM n³        mode   TFLOP/s');
  for (const n of [4096, 8192]) {
    for (const tf32 of [false, true]) {
      backend.allowTf32 = tf32;
      const a = tf.randomNormal([n, n]), b = tf.randomNormal([n, n]);
      tf.matMul(a, b).dispose();
      backend.addon.sync();
      const iters = n === 4096 ? 20 : 5;
      const t0 = performance.now();
      for (let i = 0; i < iters; i++) tf.matMul(a, b).dispose();
      backend.addon.sync();
      const s = (performance.now() - t0) / 1000;
      console.log(`${String(n).padEnd(14)} ${tf32 ? 'tf32' : 'fp32'}  ${((2 * n ** 3 * iters) / s / 1e12).toFixed(1).padStart(7)}`);
      a.dispose(); b.dispose();
    }
  }
  backend.allowTf32 = true;
  console.log(`\n${cases.length - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

void main();
