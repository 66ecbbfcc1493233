import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { setBackend } from '../../../lib/backend';
import { nativeBlas } from '../../../lib/backend/wasm_blas';
import { registerWasmFusedKernels, unregisterWasmFusedKernels } from '../../../lib/backend/wasm_fused';
import { FUSED_ATTENTION, FUSED_ROPE_ATTENTION, MASK_VALUE, buildAttentionMask, ropeAttention, scaledDotProductAttention } from '../../../lib/nn/attention';
import { FUSED_SWIGLU, swiglu } from '../../../lib/nn/swiglu';
import { rmsNorm } from '../../../lib/nn/rms_norm';
import { applyRotaryPosEmb, ropeCosSin, ropeInvFreq } from '../../../lib/nn/rope';
import { crossEntropy } from '../../../lib/nn/cross_entropy';
import { DEQUANTIZE_4BIT, dequantize4bitOp, dequantizeWords, type Dequantize4bitAttrs } from '../../../lib/quant/dequantize_op';
import { mulberry32 } from '../../../lib/random';

/**
 * The native fused kernels of the wasm backend (lib/backend/wasm_fused.ts, native/fused.cc) against
 * the composite forms of the same public ops on the same backend (values and gradients), and the
 * JS kernels they replace against them. Where the addon is not built (or OpenBLAS is missing) the
 * public ops must still run: composite forms and JS kernels.
 */

function close(name: string, got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-5): void {
  assert.equal(got.length, want.length, `${name}: length`);
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    assert.ok(Number.isFinite(got[i]), `${name}[${i}] is ${got[i]}`);
    worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1e-3 + Math.abs(want[i])));
  }
  assert.ok(worst <= tol, `${name}: worst relative difference ${worst}`);
}

/** f's value and the gradients of all its inputs against dy, with the fused kernels registered or not. */
function valueAndGrads(fusedOn: boolean, f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], dy: tf.Tensor): Float32Array[] {
  if (fusedOn) registerWasmFusedKernels();
  else unregisterWasmFusedKernels();
  return tf.tidy(() => [f(...xs), ...tf.grads(f)(xs, dy)].map((t) => t.dataSync() as Float32Array));
}

/** Whether the native kernels can be registered: the addon has them and QLORA_TS_FUSED=0 does not leave them out. */
const native = () => typeof nativeBlas()?.fused?.attention === 'function' && process.env.QLORA_TS_FUSED !== '0';

test('native fused attention on wasm equals the composite: GQA, causal + padding mask, a fully padded row, keys longer than queries', async () => {
  await setBackend('wasm');
  if (!native()) {
    // no addon here: the public op runs the composite form
    assert.equal(tf.getKernel(FUSED_ATTENTION, 'wasm'), undefined);
  }
  const cases: Array<{ B: number; H: number; Hkv: number; T: number; S: number; D: number; pad: number[][] }> = [
    { B: 2, H: 4, Hkv: 2, T: 6, S: 6, D: 8, pad: [[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1]] },
    { B: 1, H: 3, Hkv: 3, T: 3, S: 7, D: 4, pad: [[1, 1, 1, 1, 1, 1, 1]] }, // a cache of 4 past positions
    { B: 2, H: 2, Hkv: 1, T: 4, S: 4, D: 16, pad: [[1, 1, 1, 1], [0, 0, 0, 0]] }, // the second row all padding
  ];
  for (const [i, { B, H, Hkv, T, S, D, pad }] of cases.entries()) {
    const q = tf.randomNormal([B, H, T, D], 0, 1.5, 'float32', 10 + i);
    const k = tf.randomNormal([B, Hkv, S, D], 0, 1.5, 'float32', 20 + i);
    const v = tf.randomNormal([B, Hkv, S, D], 0, 1, 'float32', 30 + i);
    const dy = tf.randomNormal([B, H, T, D], 0, 1, 'float32', 40 + i);
    const mask = buildAttentionMask(pad, T);
    const before = tf.memory().numTensors;
    const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => scaledDotProductAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, mask);
    const want = valueAndGrads(false, f, [q, k, v], dy);
    const got = valueAndGrads(true, f, [q, k, v], dy);
    ['out', 'dq', 'dk', 'dv'].forEach((name, j) => close(`case ${i} ${name}`, got[j], want[j], 3e-4)); // products summed in other orders
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([q, k, v, dy, mask]);
  }
  // a mask shared by the batch (B = 1 in the mask; the composite form takes it repeated)
  const q = tf.randomNormal([2, 2, 5, 4], 0, 1, 'float32', 1), k = tf.randomNormal([2, 2, 5, 4], 0, 1, 'float32', 2);
  const mask = tf.tensor4d(Array.from({ length: 25 }, (_, j) => (j % 5 > Math.floor(j / 5) ? MASK_VALUE : 0)), [1, 1, 5, 5]);
  const tiled = tf.tile(mask, [2, 1, 1, 1]);
  const f = (m: tf.Tensor4D) => (a: tf.Tensor, b: tf.Tensor) => scaledDotProductAttention(a as tf.Tensor4D, b as tf.Tensor4D, b as tf.Tensor4D, m);
  const want = valueAndGrads(false, f(tiled), [q, k], q);
  const got = valueAndGrads(true, f(native() ? mask : tiled), [q, k], q);
  ['out', 'dq', 'dk'].forEach((name, j) => close(`shared mask ${name}`, got[j], want[j], 3e-4));
  tf.dispose([q, k, mask, tiled]);
});

test('native ropeAttention on wasm (projections in, merged heads out) equals split heads + RoPE + attention + merge, gradients of q, k, v', async () => {
  await setBackend('wasm');
  if (!native()) assert.equal(tf.getKernel(FUSED_ROPE_ATTENTION, 'wasm'), undefined);
  const cases = [
    { B: 2, H: 4, Hkv: 2, T: 6, D: 8, pad: [[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1]], positions: [[0, 1, 2, 3, 4, 5], [0, 0, 0, 1, 2, 3]] },
    { B: 1, H: 3, Hkv: 3, T: 5, D: 4, pad: [[1, 1, 1, 1, 1]], positions: [[3, 4, 5, 6, 7]] },
    { B: 2, H: 2, Hkv: 1, T: 4, D: 16, pad: [[1, 1, 1, 1], [0, 0, 0, 0]], positions: [[0, 1, 2, 3], [0, 1, 2, 3]] },
    // several 32-row blocks, each multiplying only the keys its rows see; left padding; a fully padded batch entry
    { B: 3, H: 4, Hkv: 2, T: 70, D: 8, pad: [Array(70).fill(1), [...Array(37).fill(0), ...Array(33).fill(1)], Array(70).fill(0)],
      positions: [Array.from({ length: 70 }, (_, t) => t), Array.from({ length: 70 }, (_, t) => Math.max(0, t - 37)), Array(70).fill(0)] },
  ];
  for (const [i, { B, H, Hkv, T, D, pad, positions }] of cases.entries()) {
    const q = tf.randomNormal([B, T, H * D], 0, 1.5, 'float32', 50 + i);
    const k = tf.randomNormal([B, T, Hkv * D], 0, 1.5, 'float32', 60 + i);
    const v = tf.randomNormal([B, T, Hkv * D], 0, 1, 'float32', 70 + i);
    const dy = tf.randomNormal([B, T, H * D], 0, 1, 'float32', 80 + i);
    const mask = buildAttentionMask(pad, T);
    const [cos, sin] = ropeCosSin(ropeInvFreq({ headDim: D, theta: 10000 }), positions);
    const before = tf.memory().numTensors;
    const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => ropeAttention(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor3D, cos, sin, mask, H, Hkv);
    const want = valueAndGrads(false, f, [q, k, v], dy);
    const got = valueAndGrads(true, f, [q, k, v], dy);
    ['out', 'dq', 'dk', 'dv'].forEach((name, j) => close(`case ${i} ${name}`, got[j], want[j], 3e-4));
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([q, k, v, dy, mask, cos, sin]);
  }
  const x = tf.zeros([1, 4, 8]) as tf.Tensor3D;
  const [cos, sin] = ropeCosSin(ropeInvFreq({ headDim: 4, theta: 10000 }), [[0, 1, 2, 3]]);
  const mask = buildAttentionMask([[1, 1, 1, 1, 1]], 4); // a past position: not this op's case
  assert.throws(() => ropeAttention(x, x, x, cos, sin, mask, 2, 2), /ropeAttention: `mask` has shape \[1, 1, 4, 5\]/);
  assert.throws(() => ropeAttention(x, x, x, cos, sin, mask, 3, 3), /not an even head dimension times 3 heads/);
  tf.dispose([x, cos, sin, mask]);
});

test('native fused SwiGLU on wasm equals silu(g)·u and its gradients, large and tiny gates included', async () => {
  await setBackend('wasm');
  if (!native()) assert.equal(tf.getKernel(FUSED_SWIGLU, 'wasm'), undefined);
  const g = tf.concat([tf.randomNormal([3, 37], 0, 3, 'float32', 5), tf.tensor2d([[-120, -90, -30, -1e-3, 0, 1e-3, 30, 90, 120, ...Array(28).fill(0.5)]])]);
  const u = tf.randomNormal([4, 37], 0, 1, 'float32', 6), dy = tf.randomNormal([4, 37], 0, 1, 'float32', 7);
  const before = tf.memory().numTensors;
  const want = valueAndGrads(false, swiglu, [g, u], dy);
  const got = valueAndGrads(true, swiglu, [g, u], dy);
  ['y', 'dg', 'du'].forEach((name, j) => close(name, got[j], want[j], 2e-5));
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([g, u, dy]);
});

test('native RMSNorm (weight gradient included), RoPE and cross-entropy kernels on wasm equal the JS kernels and tf ops they replace', async () => {
  await setBackend('wasm');
  const x = tf.randomNormal([3, 5, 16], 0, 2, 'float32', 1), w = tf.randomNormal([16], 1, 0.3, 'float32', 2), dy = tf.randomNormal([3, 5, 16], 0, 1, 'float32', 3);
  const q = tf.randomNormal([2, 3, 5, 8], 0, 1, 'float32', 4), dq = tf.randomNormal([2, 3, 5, 8], 0, 1, 'float32', 5);
  const [cos, sin] = ropeCosSin(ropeInvFreq({ headDim: 8, theta: 10000 }), [[0, 1, 2, 3, 4], [9, 3, 0, 11, 2]]);
  const logits = tf.concat([tf.randomNormal([5, 11], 0, 4, 'float32', 6), tf.tensor2d([[300, -300, 0, 0, 0, 0, 0, 0, 0, 0, 0]])]);
  const targets = [3, -100, 10, 7, 0, 1];
  const before = tf.memory().numTensors;
  const ops: Array<[string, (a: tf.Tensor) => tf.Tensor, tf.Tensor, tf.Tensor]> = [
    ['rmsNorm', (a) => rmsNorm(a, w, 1e-5), x, dy],
    ['rope', (a) => applyRotaryPosEmb(a as tf.Tensor4D, cos, sin), q, dq],
    ['crossEntropy', (a) => crossEntropy(a as tf.Tensor2D, targets), logits, tf.scalar(0.7)],
  ];
  for (const [name, f, input, d] of ops) {
    const js = valueAndGrads(false, f, [input], d);
    const nat = valueAndGrads(true, f, [input], d);
    close(`${name} value`, nat[0], js[0], 2e-5);
    close(`${name} gradient`, nat[1], js[1], 1e-4);
  }
  // the weight's gradient too (native: one kernel; without it: tf ops)
  const norm = (a: tf.Tensor, ww: tf.Tensor) => rmsNorm(a, ww, 1e-5);
  const js = valueAndGrads(false, norm, [x, w], dy);
  const nat = valueAndGrads(true, norm, [x, w], dy);
  close('rmsNorm dweight', nat[2], js[2], 1e-4);
  tf.dispose(ops[2][3]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, w, dy, q, dq, cos, sin, logits]);
});

test('native Dequantize4bit on wasm gives the host kernel\'s floats bit for bit: plain and double-quantized absmax, both layouts, a short last block', async () => {
  await setBackend('wasm');
  registerWasmFusedKernels();
  const random = mulberry32(7);
  const cases: Array<{ rows: number; cols: number; blocksize: number; nested: boolean; offset: number }> = [
    { rows: 40, cols: 72, blocksize: 64, nested: false, offset: 0 },
    { rows: 33, cols: 96, blocksize: 64, nested: true, offset: 0.0123456789 }, // 3168 values: the last block short of 64
    { rows: 96, cols: 40, blocksize: 128, nested: true, offset: -0.25 },
  ];
  for (const { rows, cols, blocksize, nested, offset } of cases) {
    const n = rows * cols, nBlocks = Math.ceil(n / blocksize);
    const packed = Int32Array.from({ length: Math.ceil(n / 8) }, () => (random() * 2 ** 32) | 0);
    const code = Float32Array.from({ length: 16 }, (_, i) => (i - 7.5) / 7.5 + random() * 1e-3);
    const absmax = nested ? Int32Array.from({ length: Math.ceil(nBlocks / 4) }, () => (random() * 2 ** 32) | 0) : Float32Array.from({ length: nBlocks }, () => random() * 3);
    const nestedAbsmax = nested ? Float32Array.from({ length: Math.ceil(nBlocks / 256) }, () => random() * 0.1) : undefined;
    const nestedCode = nested ? Float32Array.from({ length: 256 }, (_, i) => (i - 127.5) / 127.5) : undefined;
    for (const transpose of [false, true]) {
      const attrs: Dequantize4bitAttrs = { shape: [rows, cols], blocksize, transpose, nested, nestedBlocksize: 256, offset };
      const want = new Float32Array(n);
      dequantizeWords(packed, code, absmax, attrs, nestedAbsmax, nestedCode, want);
      const inputs = {
        packed: tf.tensor1d(packed, 'int32'), code: tf.tensor1d(code), absmax: nested ? tf.tensor1d(absmax as Int32Array, 'int32') : tf.tensor1d(absmax as Float32Array),
        ...(nested ? { nestedAbsmax: tf.tensor1d(nestedAbsmax!), nestedCode: tf.tensor1d(nestedCode!) } : {}),
      };
      const got = dequantize4bitOp(inputs, attrs);
      assert.deepEqual(got.shape, transpose ? [cols, rows] : [rows, cols]);
      assert.deepEqual(got.dataSync(), want, `${rows}×${cols} blocks of ${blocksize}${nested ? ', nested' : ''}${transpose ? ', transposed' : ''}`);
      tf.dispose([got, ...Object.values(inputs)]);
    }
  }
  if (native()) assert.notEqual(tf.getKernel(DEQUANTIZE_4BIT, 'wasm'), undefined);
  unregisterWasmFusedKernels();
  assert.notEqual(tf.getKernel(DEQUANTIZE_4BIT, 'wasm'), undefined, 'the host kernel is back');
  registerWasmFusedKernels();
});

test('the native kernels refuse operands outside the heap instead of reading past it', async () => {
  await setBackend('wasm');
  const fused = nativeBlas()?.fused;
  if (typeof fused?.attention !== 'function') return; // not built here: nothing native to misuse
  const heap = new Uint8Array(256);
  assert.throws(() => fused.swiglu(heap, 0, 128, 192, 32), /swiglu: an operand lies outside the heap/);
  assert.throws(() => fused.attention(heap, 0, 0, 0, 0, 0, 0, 1, 2, 1, 8, 8, 8, 1, 1), /attention: an operand lies outside the heap/);
  assert.throws(() => fused.attention(heap, 0, 0, 0, 0, 0, 0, 1, 3, 2, 1, 1, 1, 1, 1), /attention: bad sizes/);
  assert.throws(() => fused.rmsNorm(heap, 0, 0, 0, 0, 100, 2, 1e-6), /rmsNorm: an operand lies outside the heap/);
  const g = new Float32Array([0, 1, -1, 2]);
  heap.set(new Uint8Array(g.buffer), 0);
  heap.set(new Uint8Array(new Float32Array([1, 1, 1, 1]).buffer), 16);
  fused.swiglu(heap, 0, 16, 32, 4);
  close('silu', new Float32Array(heap.buffer, 32, 4), Array.from(g, (x) => x / (1 + Math.exp(-x))), 1e-6);
});
