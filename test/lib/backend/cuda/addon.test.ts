import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { addonPath, loadAddon } from '../../../../lib/backend/cuda/addon';
import { registerCudaBackend } from '../../../../lib/backend/cuda';
import * as tf from '@tensorflow/tfjs';
import { dequantize4bitOp } from '../../../../lib/quant/dequantize_op';

const hasNvcc = spawnSync('/usr/local/cuda/bin/nvcc', ['--version']).status === 0 || spawnSync('nvcc', ['--version']).status === 0;
const hasGpu = spawnSync('nvidia-smi', ['-L']).status === 0;

test('the install step built the CUDA addon wherever nvcc exists, and it loads without a GPU', { skip: !hasNvcc && 'nvcc is not installed here' }, () => {
  const file = addonPath();
  assert.ok(fs.existsSync(file), `${file} should have been built by scripts/build-cuda.js`);
  const addon = require(file) as { info(): { ok: boolean; reason?: string } };
  const info = addon.info();
  assert.equal(typeof info.ok, 'boolean');
  if (!hasGpu) {
    assert.equal(info.ok, false);
    assert.match(info.reason ?? '', /CUDA|GPU|driver/);
  }
});

test('selecting cuda where no GPU answers gives one reason naming the addon', { skip: hasGpu && 'a GPU is present' }, () => {
  const r = registerCudaBackend();
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.match(r.reason, /qlora_cuda\.node/);
    assert.match(r.reason, /driver|GPU|not built|nvcc/);
  }
  assert.equal(loadAddon().addon, undefined);
});

// Registered only where a GPU answers (the GPU machine's run, docs/CUDA.md): on CPU-only CI it is
// not a test at all rather than a skipped one.
if (hasGpu) test('on a GPU: gather and its gradient, int32 one-hot, split/concat and Dequantize4bit match the CPU backend and free their device memory', async () => {
  assert.equal(registerCudaBackend().ok, true);
  const run = () => tf.tidy(() => {
    const ids = tf.tensor2d([[3, 1, 9], [0, 9, 3]], [2, 3], 'int32');
    const table = tf.tensor2d(Array.from({ length: 40 }, (_, i) => Math.sin(i)), [10, 4]);
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.square(tf.gather(x, ids))))(table); // (10, 4)
    const oh = tf.cast(tf.oneHot(ids, 12), 'float32'); // (2, 3, 12)
    const [a, b] = tf.split(table, [3, 7], 0);
    const cat = tf.concat([b, a], 0); // (10, 4)
    const w = dequantize4bitOp({
      packed: tf.tensor1d(Array.from({ length: 8 }, (_, i) => Math.imul(i + 1, 2654435761) | 0), 'int32'),
      code: tf.tensor1d(Array.from({ length: 16 }, (_, i) => (i - 7.5) / 7.5)),
      absmax: tf.tensor1d([0.5]),
    }, { shape: [8, 8], blocksize: 64, transpose: true, nested: false, nestedBlocksize: 256, offset: 0 });
    return tf.concat([g.flatten(), oh.flatten(), cat.flatten(), w.flatten()]);
  });
  await tf.setBackend('cpu');
  const want = run();
  const wantValues = await want.data();
  want.dispose();
  await tf.setBackend('cuda');
  const backend = tf.backend() as unknown as { addon: { memoryStats(): { allocated: number } } };
  const before = tf.memory().numTensors, allocated = backend.addon.memoryStats().allocated;
  const got = run();
  const gotValues = await got.data();
  got.dispose();
  assert.equal(tf.memory().numTensors, before);
  assert.equal(backend.addon.memoryStats().allocated, allocated);
  assert.equal(gotValues.length, wantValues.length);
  Array.from(gotValues).forEach((v, i) => assert.ok(Math.abs(v - wantValues[i]) <= 1e-5 * Math.max(1, Math.abs(wantValues[i])), `element ${i}: ${v} vs ${wantValues[i]}`));
});
