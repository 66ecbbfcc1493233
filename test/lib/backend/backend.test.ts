import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND_NAMES, describeBackend, ensureBackend, setBackend } from '../../../lib/backend';
import { BackendError } from '../../../lib/errors';

test('the default backend is wasm with the transposed BatchMatMul re-registered', async () => {
  assert.equal(await ensureBackend(), process.env.QLORA_TS_BACKEND || 'wasm');
  const r = await setBackend('wasm');
  assert.equal(r.name, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.match(describeBackend(r), /BatchMatMul with transposes re-registered/);
  assert.deepEqual(BACKEND_NAMES, ['wasm', 'cpu', 'tensorflow', 'webgpu', 'cuda']);
});

test('transposed matMul on wasm equals the cpu backend for every transpose combination, without leaks', async () => {
  const a = [[1, 2, 3], [4, 5, 6]];
  const b = [[1, 0.5], [2, -1], [0, 3]];
  const results: Record<string, number[][]> = {};
  for (const backend of ['cpu', 'wasm']) {
    await setBackend(backend);
    const before = tf.memory().numTensors;
    const A = tf.tensor2d(a), B = tf.tensor2d(b);
    const At = tf.transpose(A), Bt = tf.transpose(B);
    const outs = [tf.matMul(A, B), tf.matMul(At, B, true, false), tf.matMul(A, Bt, false, true), tf.matMul(At, Bt, true, true)];
    results[backend] = await Promise.all(outs.map((o) => o.data().then((d) => Array.from(d))));
    // batched, rank 4 (the attention shapes)
    const q = tf.randomNormal([2, 3, 4, 5], 0, 1, 'float32', 9), k = tf.randomNormal([2, 3, 6, 5], 0, 1, 'float32', 10);
    const s = tf.matMul(q, k, false, true);
    results[`${backend}-batched`] = [Array.from(await s.data())];
    tf.dispose([A, B, At, Bt, ...outs, q, k, s]);
    assert.equal(tf.memory().numTensors, before);
  }
  for (let i = 0; i < 4; i++) assert.deepEqual(results.wasm[i], results.cpu[i]);
  results.wasm.forEach((r) => assert.deepEqual(r, [1 + 4, 0.5 - 2 + 9, 4 + 10, 2 - 5 + 18]));
  const diff = results['wasm-batched'][0].map((x, i) => Math.abs(x - results['cpu-batched'][0][i]));
  assert.ok(Math.max(...diff) < 1e-5);
  await setBackend('wasm');
});

test('unavailable backends throw BackendError saying why; unknown names list the choices', async () => {
  // Installed as a shim here; absent altogether where node_modules is pruned (the GPU machine).
  await assert.rejects(setBackend('tensorflow'), (e: unknown) => e instanceof BackendError && /shim of pure-JS @tensorflow\/tfjs|@tensorflow\/tfjs-node is installed/.test(e.message));
  await assert.rejects(setBackend('webgpu'), (e: unknown) => e instanceof BackendError && /tfjs-backend-webgpu/.test(e.message));
  if (spawnSync('nvidia-smi', ['-L']).status === 0) {
    assert.equal((await setBackend('cuda')).name, 'cuda', 'a GPU answers: cuda is selected');
    await setBackend('wasm');
  } else {
    await assert.rejects(setBackend('cuda'), (e: unknown) => e instanceof BackendError && /backend 'cuda'/.test(e.message) && !!(e as BackendError).hint);
  }
  await assert.rejects(setBackend('tpu'), (e: unknown) => e instanceof BackendError && /unknown backend "tpu"/.test(e.message) && /'wasm'/.test(e.message));
  assert.equal(tf.getBackend(), 'wasm', 'a failed selection leaves the previous backend in place');
  const cpu = await setBackend('cpu');
  assert.equal(cpu.name, 'cpu');
  await setBackend('wasm');
});

test('QLORA_TS_BACKEND picks the default backend', async () => {
  const { execFileSync } = await import('node:child_process');
  const out = execFileSync(process.execPath, ['-e', `require(${JSON.stringify(require.resolve('../../../lib/backend'))}).ensureBackend().then((n) => console.log(n))`], {
    env: { ...process.env, QLORA_TS_BACKEND: 'cpu' }, encoding: 'utf8',
  });
  assert.equal(out.trim(), 'cpu');
});

test('opt-in threaded wasm (QLORA_TS_WASM_THREADS=2) initialises in Node, computes the same matmul, and lets the process exit', async () => {
  const { execFileSync } = await import('node:child_process');
  const script = `
    const tf = require('@tensorflow/tfjs-core');
    const b = require(${JSON.stringify(require.resolve('../../../lib/backend'))});
    b.setBackend('wasm').then((r) => {
      const x = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
      const y = tf.matMul(x, x, false, true);
      console.log(JSON.stringify({ details: r.details, y: Array.from(y.dataSync()) }));
    });`;
  const out = execFileSync(process.execPath, ['-e', script], {
    cwd: __dirname, env: { ...process.env, QLORA_TS_WASM_THREADS: '2' }, encoding: 'utf8', timeout: 120_000,
  });
  const r = JSON.parse(out.trim().split('\n').pop()!);
  assert.ok(r.details.some((d: string) => /^2 threads \(threaded SIMD build\)$/.test(d)), JSON.stringify(r.details));
  assert.deepEqual(r.y, [14, 32, 32, 77]);
});
