import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { setBackend } from '../../../lib/backend';
import { useNativeBlas } from '../../../lib/backend/wasm_matmul';
import { nativeBlas, nativeBlasReason } from '../../../lib/backend/wasm_blas';
import { FUSED_RMS_NORM, FUSED_RMS_NORM_GRAD, rmsNorm } from '../../../lib/nn/rms_norm';
import { FUSED_CROSS_ENTROPY, FUSED_CROSS_ENTROPY_GRAD, crossEntropy } from '../../../lib/nn/cross_entropy';
import { FUSED_ROPE, applyRotaryPosEmb, ropeCosSin, ropeInvFreq } from '../../../lib/nn/rope';

/** The library's wasm kernels against the composite form of tf ops (values and gradients) or against the cpu backend. */

function close(name: string, got: ArrayLike<number>, want: ArrayLike<number>, tol = 2e-5): void {
  assert.equal(got.length, want.length, `${name}: length`);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1e-3 + Math.abs(want[i])));
  assert.ok(worst <= tol, `${name}: worst relative difference ${worst}`);
}

const run = (name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, number> = {}) => {
  const r = tf.engine().runKernel(name, inputs as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap);
  return Array.isArray(r) ? r : [r as tf.Tensor];
};

test('fused RMSNorm kernels on wasm equal the composite form and its input gradient', async () => {
  await setBackend('wasm');
  const x = tf.randomNormal([4, 3, 16], 0, 2, 'float32', 8), w = tf.randomNormal([16], 1, 0.5, 'float32', 9), dy = tf.randomNormal([4, 3, 16], 0, 1, 'float32', 10);
  const eps = 1e-5;
  const before = tf.memory().numTensors;
  const composite = (a: tf.Tensor) => tf.mul(tf.mul(a, tf.rsqrt(tf.add(tf.mean(tf.square(a), -1, true), eps))), w);
  const [y, rstd] = run(FUSED_RMS_NORM, { x, weight: w }, { eps });
  const [dx] = run(FUSED_RMS_NORM_GRAD, { x, weight: w, rstd, dy });
  const want = tf.tidy(() => [composite(x), tf.grad(composite)(x, dy)]);
  assert.deepEqual(rstd.shape, [12]);
  close('y', y.dataSync(), want[0].dataSync());
  close('dx', dx.dataSync(), want[1].dataSync(), 1e-4);
  tf.dispose([y, rstd, dx, ...want]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, w, dy]);
});

test('rmsNorm on wasm (fused kernels) gives the composite value and the gradients of x and of a trainable or frozen weight', async () => {
  await setBackend('wasm');
  const x = tf.randomNormal([2, 5, 8], 0, 2, 'float32', 12), dy = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 13);
  const eps = 1e-6;
  const trainable = tf.variable(tf.randomNormal([8], 1, 0.3, 'float32', 14), true);
  const frozen = tf.variable(trainable.clone(), false);
  const before = tf.memory().numTensors;
  const composite = (a: tf.Tensor, w: tf.Tensor) => tf.mul(tf.mul(a, tf.rsqrt(tf.add(tf.mean(tf.square(a), -1, true), eps))), w);
  const want = tf.tidy(() => [composite(x, trainable), ...tf.grads(composite)([x, trainable], dy)]);
  const got = tf.tidy(() => [rmsNorm(x, trainable, eps), ...tf.grads((a: tf.Tensor, w: tf.Tensor) => rmsNorm(a, w, eps))([x, trainable], dy)]);
  ['y', 'dx', 'dweight'].forEach((name, i) => close(name, got[i].dataSync(), want[i].dataSync(), 1e-4));
  const frozenDx = tf.tidy(() => tf.grad((a: tf.Tensor) => rmsNorm(a, frozen, eps))(x, dy));
  close('dx with a frozen weight', frozenDx.dataSync(), want[1].dataSync(), 1e-4);
  tf.dispose([...want, ...got, frozenDx]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, dy, trainable, frozen]);
});

test('cross-entropy on wasm (fused kernels) equals the composite: row losses, logsumexp, gradient; ignored rows give zero; extreme logits stay finite', async () => {
  await setBackend('wasm');
  const N = 6, V = 11;
  const logits = tf.tidy(() => tf.concat([tf.randomNormal([N - 1, V], 0, 4, 'float32', 11), tf.tensor2d([[200, -200, 0, 0, 0, 0, 0, 0, 0, 0, 0]])]));
  const targets = [3, 0, 10, 7, 7, 1]; // the last row's target logit is 400 below its max
  const keepArr = [1, 1, 0, 1, 0, 1];
  const ids = tf.tensor1d(targets, 'int32'), keep = tf.tensor1d(keepArr), dy = tf.scalar(0.7);
  const count = keepArr.reduce((a, b) => a + b, 0);
  const before = tf.memory().numTensors;
  const composite = (x: tf.Tensor) => tf.div(tf.sum(tf.mul(tf.sub(tf.logSumExp(x, -1), tf.sum(tf.mul(x, tf.oneHot(ids, V)), -1)), keep)), count);
  const run = (name: string, inputs: tf.NamedTensorMap, attrs = {}) => tf.engine().runKernel(name, inputs, attrs) as tf.Tensor | tf.Tensor[];
  const [rowLoss, lse] = run(FUSED_CROSS_ENTROPY, { logits, ids, keep }) as tf.Tensor[];
  const dx = run(FUSED_CROSS_ENTROPY_GRAD, { logits, ids, keep, lse, dy }, { invDenom: 1 / count }) as tf.Tensor;
  const want = tf.tidy(() => [composite(logits), tf.grad(composite)(logits, dy), tf.logSumExp(logits, -1)]);
  const loss = tf.tidy(() => tf.div(tf.sum(rowLoss), count));
  close('loss', loss.dataSync(), want[0].dataSync());
  close('dlogits', dx.dataSync(), want[1].dataSync(), 1e-4);
  close('lse', lse.dataSync(), want[2].dataSync());
  const d = dx.arraySync() as number[][];
  assert.ok(d[2].every((x) => x === 0) && d[4].every((x) => x === 0));
  // the public op takes the fused path on wasm and gives the same loss and gradient
  const labels = targets.map((t, i) => (keepArr[i] ? t : -100));
  const viaOp = tf.tidy(() => [crossEntropy(logits as tf.Tensor2D, labels), tf.grad((x: tf.Tensor) => crossEntropy(x as tf.Tensor2D, labels))(logits, dy)]);
  close('crossEntropy loss', viaOp[0].dataSync(), want[0].dataSync());
  close('crossEntropy gradient', viaOp[1].dataSync(), want[1].dataSync(), 1e-4);
  tf.dispose([rowLoss, lse, dx, loss, ...want, ...viaOp]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([logits, ids, keep, dy]);
});

test('RoPE on wasm (fused kernels) equals the composite x·cos + rotate_half(x)·sin and its gradient, per-row positions', async () => {
  await setBackend('wasm');
  assert.ok(tf.getKernel(FUSED_ROPE, 'wasm'));
  const [B, H, T, D] = [2, 3, 5, 8];
  const [cos, sin] = ropeCosSin(ropeInvFreq({ headDim: D, theta: 10000 }), [[0, 1, 2, 3, 4], [7, 3, 0, 11, 2]]);
  const x = tf.randomNormal([B, H, T, D], 0, 1, 'float32', 15) as tf.Tensor4D, dy = tf.randomNormal([B, H, T, D], 0, 1, 'float32', 16);
  const before = tf.memory().numTensors;
  const composite = (a: tf.Tensor) => {
    const half = D / 2;
    const rotated = tf.concat([tf.neg(tf.slice(a, [0, 0, 0, half], [-1, -1, -1, half])), tf.slice(a, [0, 0, 0, 0], [-1, -1, -1, half])], 3);
    return tf.add(tf.mul(a, cos), tf.mul(rotated, sin));
  };
  const want = tf.tidy(() => [composite(x), tf.grad(composite)(x, dy)]);
  const got = tf.tidy(() => [applyRotaryPosEmb(x, cos, sin), tf.grad((a: tf.Tensor) => applyRotaryPosEmb(a as tf.Tensor4D, cos, sin))(x, dy)]);
  close('y', got[0].dataSync(), want[0].dataSync());
  close('dx', got[1].dataSync(), want[1].dataSync());
  tf.dispose([...want, ...got]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, dy, cos, sin]);
});

test('wasm GatherV2 along axis 0 and UnsortedSegmentSum equal the cpu backend; out-of-range ids still throw', async () => {
  const results: Record<string, number[][]> = {};
  for (const backend of ['cpu', 'wasm']) {
    await setBackend(backend);
    const x = tf.tensor2d([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]]);
    const ids = tf.tensor2d([[3, 0], [3, 1]], [2, 2], 'int32');
    const g = tf.gather(x, ids);
    const s = tf.unsortedSegmentSum(x, tf.tensor1d([2, 0, 2, 5], 'int32'), 3);
    const g1 = tf.gather(x, tf.tensor1d([1, 2], 'int32'), 1); // other axes: the original kernel
    results[backend] = [Array.from(g.dataSync()), Array.from(s.dataSync()), Array.from(g1.dataSync()), g.shape];
    assert.throws(() => tf.gather(x, tf.tensor1d([4], 'int32')).dataSync());
    tf.dispose([x, ids, g, s, g1]);
  }
  assert.deepEqual(results.wasm, results.cpu);
  assert.deepEqual(results.wasm[1], [4, 5, 6, 0, 0, 0, 8, 10, 12]);
  await setBackend('wasm');
});

test('wasm BatchMatMul (OpenBLAS where it loads, else one XNNPACK product per batch entry) equals the cpu backend for equal, broadcast and transposed batches', async () => {
  const cases: Array<[number[], number[], boolean, boolean]> = [
    [[2, 3, 4, 5], [2, 3, 5, 6], false, false], [[2, 3, 4, 5], [2, 3, 6, 5], false, true], [[2, 3, 5, 4], [2, 3, 5, 6], true, false],
    [[2, 3, 5, 4], [2, 3, 6, 5], true, true], [[4, 5], [2, 3, 5, 6], false, false], [[2, 3, 4, 5], [5, 6], false, false],
    [[2, 3, 4, 5], [1, 1, 5, 6], false, false], [[6, 4, 5], [1, 5, 6], false, false], [[2, 1, 4, 5], [1, 3, 5, 6], false, false],
    [[16, 33, 17], [16, 17, 35], false, false], [[37, 19], [37, 23], true, false],
  ];
  const results: Record<string, Array<{ shape: number[]; data: number[] }>> = {};
  for (const [backend, blas] of [['cpu', false], ['wasm', true], ['wasm-xnnpack', false]] as const) {
    await setBackend(backend.replace('-xnnpack', ''));
    const was = useNativeBlas(blas);
    const before = tf.memory().numTensors;
    results[backend] = cases.map(([sa, sb, ta, tb], i) => tf.tidy(() => {
      const o = tf.matMul(tf.randomNormal(sa, 0, 1, 'float32', i + 1), tf.randomNormal(sb, 0, 1, 'float32', i + 100), ta, tb);
      return { shape: o.shape, data: Array.from(o.dataSync()) };
    }));
    assert.equal(tf.memory().numTensors, before);
    useNativeBlas(was);
  }
  for (const wasm of ['wasm', 'wasm-xnnpack']) {
    cases.forEach((c, i) => {
      assert.deepEqual(results[wasm][i].shape, results.cpu[i].shape, JSON.stringify(c));
      close(`${wasm} ${JSON.stringify(c)}`, results[wasm][i].data, results.cpu[i].data, 1e-3); // summation orders differ
    });
  }
  await setBackend('wasm');
});

test('OpenBLAS loads through the addon where it is built, or says why not; its sgemm refuses offsets outside the heap', async () => {
  await setBackend('wasm');
  const blas = nativeBlas();
  if (!blas) {
    assert.match(nativeBlasReason()!, /QLORA_TS_BLAS=0|not built|cblas_sgemm|cannot open|No such file/);
    return;
  }
  assert.match(blas.lib, /openblas/);
  assert.equal(typeof blas.core, 'string'); // e.g. Haswell, SkylakeX
  const heap = new Uint8Array(64);
  assert.throws(() => blas.sgemm(heap, false, false, 4, 4, 4, 0, 0, 16, 1, 0, 0, 0), /outside the heap/);
  const a = new Float32Array([1, 2, 3, 4]); // (2, 2)
  heap.set(new Uint8Array(a.buffer), 0);
  blas.sgemm(heap, false, true, 2, 2, 2, 0, 0, 16, 1, 0, 0, 0); // a · aᵀ
  assert.deepEqual(Array.from(new Float32Array(heap.buffer, 16, 4)), [5, 11, 11, 25]);
});

test('wasm Identity (tf.clone, tensors kept for backward) shares the data: disposing either side keeps the other intact', async () => {
  await setBackend('wasm');
  const before = tf.memory();
  const x = tf.tensor2d([[1, 2], [3, 4]]);
  const y = tf.clone(x);
  assert.equal(y.dataId, x.dataId); // one buffer for both
  x.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3, 4]);
  const z = tf.clone(y);
  y.dispose();
  const w = tf.add(z, 1);
  assert.deepEqual(Array.from(w.dataSync()), [2, 3, 4, 5]);
  tf.dispose([z, w]);
  assert.equal(tf.memory().numTensors, before.numTensors);
  assert.equal(tf.memory().numBytes, before.numBytes);
});
