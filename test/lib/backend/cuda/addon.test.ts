import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { addonPath, loadAddon } from '../../../../lib/backend/cuda/addon';
import { registerCudaBackend, type CudaBackend } from '../../../../lib/backend/cuda';
import * as tf from '@tensorflow/tfjs';
import { dequantize4bitOp } from '../../../../lib/quant/dequantize_op';
import { Linear4bit } from '../../../../lib/quant/linear4bit';
import { roundToFloat16 } from '../../../../lib/quant/float16';
import { join } from 'node:path';
import { AutoModelForCausalLM, LlamaForCausalLM } from '../../../../lib/model/llama';
import { BitsAndBytesConfig } from '../../../../lib/quant/bnb_config';
import { prepareModelForKbitTraining } from '../../../../lib/quant/prepare';
import { LoraConfig } from '../../../../lib/lora/config';
import { getPeftModel } from '../../../../lib/lora/peft_model';
import { Trainer } from '../../../../lib/train/trainer';
import { TrainingArguments, type OptimName } from '../../../../lib/train/training_args';
import { mulberry32 } from '../../../../lib/random';
import { packageRoot } from '../../../../lib/package_root';
import { tempDir } from '../../../tmp';

const hasNvcc = spawnSync('/usr/local/cuda/bin/nvcc', ['--version']).status === 0 || spawnSync('nvcc', ['--version']).status === 0;
const hasGpu = spawnSync('nvidia-smi', ['-L']).status === 0;

test('without nvcc the install step still succeeds; selecting cuda then says the addon was not built and how to build it', () => {
  const build = spawnSync(process.execPath, [join(packageRoot(), 'scripts', 'build-cuda.js')], { env: { ...process.env, NVCC: '/nonexistent/nvcc' }, encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  assert.match(build.stdout, /NVCC=\/nonexistent\/nvcc does not run; the cuda backend is not built \(wasm\/cpu backends work as usual\)/);

  const missing = join(tempDir('no-addon'), 'qlora_cuda.node');
  const select = `require(${JSON.stringify(join(__dirname, '..', '..', '..', '..', 'lib', 'backend'))}).ensureBackend()
    .then((name) => { console.log('selected ' + name); process.exit(1); }, (e) => { console.log(e.name + ': ' + e.message); });`;
  const r = spawnSync(process.execPath, ['-e', select], { env: { ...process.env, QLORA_TS_BACKEND: 'cuda', QLORA_TS_CUDA_ADDON: missing }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^BackendError: /);
  assert.ok(r.stdout.includes(`the CUDA addon ${missing} was not built`), r.stdout);
  assert.match(r.stdout, /npm run build:cuda/);
});

// Tests that only mean something on one kind of machine are registered only there (not skipped
// elsewhere): the build where nvcc exists or the addon was carried, the no-GPU reason where no GPU
// answers, the kernels where one does (the GPU machine's run, docs/CUDA.md).
if (hasNvcc || fs.existsSync(addonPath())) test('the install step built the CUDA addon wherever nvcc exists, and it loads with or without a GPU', () => {
  const file = addonPath();
  assert.ok(fs.existsSync(file), `${file} should have been built by scripts/build-cuda.js`);
  const addon = require(file) as { info(): { ok: boolean; reason?: string } };
  const info = addon.info();
  assert.equal(typeof info.ok, 'boolean');
  if (!hasGpu) {
    assert.equal(info.ok, false);
    assert.match(info.reason ?? '', /CUDA|GPU|driver/);
  } else {
    assert.equal(info.ok, true, info.reason);
  }
});

if (!hasGpu) test('selecting cuda where no GPU answers gives one reason naming the addon', () => {
  const r = registerCudaBackend();
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.match(r.reason, /qlora_cuda\.node/);
    assert.match(r.reason, /driver|GPU|not built|nvcc/);
  }
  assert.equal(loadAddon().addon, undefined);
});

if (hasGpu) test('on a GPU: gather and its gradient, int32 one-hot, split/concat, AddN and Dequantize4bit match the CPU backend and free their device memory', async () => {
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
    const sum3 = tf.addN([table, tf.mul(table, 2), tf.sin(table)]), sum1 = tf.addN([table]);
    return tf.concat([g.flatten(), oh.flatten(), cat.flatten(), w.flatten(), sum3.flatten(), sum1.flatten()]);
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

// Registered only where a GPU answers, like the test above. Bounds from float16's 11-bit significand:
// against float64 of the operands rounded to float16 only fp32 accumulation is left (2^-14); against
// the exact operands each product moves by up to ≈ 2^-10.
if (hasGpu) test('on a GPU: Linear4bit with compute dtype float16 rounds x and W to float16 (forward and input gradient); overflow is flagged and told', async () => {
  assert.equal(registerCudaBackend().ok, true);
  await tf.setBackend('cuda');
  const backend = tf.backend() as unknown as { addon: { sync(): void; float16Overflow(reset?: number): number } };
  const relL2 = (got: ArrayLike<number>, ref: Float64Array) => {
    let num = 0, den = 0;
    for (let i = 0; i < ref.length; i++) { num += (got[i] - ref[i]) ** 2; den += ref[i] ** 2; }
    return Math.sqrt(num / den);
  };
  const [out, inF, N] = [96, 256, 24];
  const w = tf.randomNormal([out, inF], 0, 0.05, 'float32', 31);
  const layer = Linear4bit.fromLinearWeight(w, { quantType: 'nf4', compressStatistics: true, computeDtype: 'float16' });
  const Wt = layer.dequantize(); // (out, in)
  const W = Wt.dataSync() as Float32Array;
  Wt.dispose();
  const x = tf.randomNormal([N, inF], 0, 1, 'float32', 32);
  const c = tf.randomNormal([N, out], 0, 1, 'float32', 33); // d(sum(y · c))/dy
  const xv = x.dataSync(), cv = c.dataSync();
  const before = tf.memory().numTensors;
  backend.addon.sync();
  backend.addon.float16Overflow(1);
  const y = layer.forward(x);
  const dx = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(layer.forward(xi), c)))(x);
  const [yv, dxv] = [y.dataSync(), dx.dataSync()];
  tf.dispose([y, dx]);
  assert.equal(tf.memory().numTensors, before);
  for (const round of [false, true]) {
    const r = round ? roundToFloat16 : (v: number) => v;
    const yRef = new Float64Array(N * out), dxRef = new Float64Array(N * inF);
    for (let i = 0; i < N; i++) {
      for (let o = 0; o < out; o++) {
        for (let k = 0; k < inF; k++) {
          const wk = r(W[o * inF + k]);
          yRef[i * out + o] += r(xv[i * inF + k]) * wk;
          dxRef[i * inF + k] += r(cv[i * out + o]) * wk;
        }
      }
    }
    const tol = round ? 2 ** -14 : 2 ** -10;
    assert.ok(relL2(yv, yRef) <= tol, `forward${round ? ' (float16 operands)' : ''}: ${relL2(yv, yRef)}`);
    assert.ok(relL2(dxv, dxRef) <= tol, `input gradient${round ? ' (float16 operands)' : ''}: ${relL2(dxv, dxRef)}`);
  }
  assert.equal(backend.addon.float16Overflow(), 0, 'typical activations raise no overflow flag');

  // An activation over 65504 becomes inf, as in bitsandbytes: its row of y is not finite, and the
  // backend says why once the values are read.
  const big = x.bufferSync();
  big.set(70000, 2, 9);
  const xBig = big.toTensor();
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => { warnings.push(args.join(' ')); };
  let yBig: Float32Array;
  try {
    const t = layer.forward(xBig);
    yBig = t.dataSync() as Float32Array;
    t.dispose();
  } finally {
    console.warn = warn;
  }
  assert.equal(backend.addon.float16Overflow() & 1, 1);
  assert.ok(Array.from(yBig.subarray(2 * out, 3 * out)).every((v) => !Number.isFinite(v)));
  assert.ok(Array.from(yBig.subarray(0, 2 * out)).every(Number.isFinite));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /compute dtype float16: activations beyond ±65504.*bfloat16/);
  backend.addon.sync();
  backend.addon.float16Overflow(1);
  tf.dispose([w, x, c, xBig]);
  layer.dispose();
});

/**
 * The walkthrough's whole path on a tiny model, on the device: a 4-bit load (NF4, double
 * quantization), prepareModelForKbitTraining with checkpointing, LoRA on all seven linears with
 * dropout, the Trainer (paged 8-bit AdamW or AdamW, clipping, warm-up, evaluation, a saved
 * checkpoint), then greedy and sampled generation with the KV cache. Returns the kernels that
 * went to the CPU backend instead (the backend's one-time fallback warnings).
 */
async function walkthroughKernels(backend: CudaBackend, computeDtype: 'float16' | 'bfloat16', optim: OptimName): Promise<string[]> {
  const forwarded: string[] = [];
  const warnFallback = backend.warnFallback;
  backend.warnFallback = (kernelName: string) => { forwarded.push(kernelName); };
  try {
    const dir = tempDir('cuda-walk');
    // Head size 64: the flash attention kernels' size, when matmuls are bf16.
    const tiny = LlamaForCausalLM.fromConfig({ vocabSize: 96, hiddenSize: 128, intermediateSize: 256, numHiddenLayers: 2, numAttentionHeads: 2, numKeyValueHeads: 1, headDim: 64, initializerRange: 0.05 }, { seed: 3 });
    await tiny.savePretrained(`${dir}/model`, { dtype: 'F32' });
    tiny.dispose();
    const base = await AutoModelForCausalLM.fromPretrained(`${dir}/model`, { quantizationConfig: new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4', bnb4bitUseDoubleQuant: true, bnb4bitComputeDtype: computeDtype }) });
    prepareModelForKbitTraining(base);
    const model = getPeftModel(base, new LoraConfig({ r: 8, loraAlpha: 16, loraDropout: 0.05, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], bias: 'none', taskType: 'CAUSAL_LM' }), { warn: false });
    const random = mulberry32(5);
    const rows = Array.from({ length: 8 }, () => ({ input_ids: Array.from({ length: 6 + Math.floor(random() * 20) }, () => 1 + Math.floor(random() * 90)) }));
    const trainer = new Trainer({
      model,
      args: new TrainingArguments({ outputDir: `${dir}/out`, maxSteps: 2, perDeviceTrainBatchSize: 2, gradientAccumulationSteps: 2, learningRate: 1e-3, warmupSteps: 1, loggingSteps: 1, evalStrategy: 'steps', evalSteps: 2, saveStrategy: 'steps', saveSteps: 2, optim, gradientCheckpointing: true, seed: 7, disableTqdm: true }),
      trainDataset: rows.slice(0, 6),
      evalDataset: rows.slice(6),
    });
    await trainer.train();
    assert.ok(trainer.state.logHistory.some((e) => 'eval_loss' in e && Number.isFinite(e.eval_loss)));
    model.eval();
    const greedy = await model.generate({ inputIds: [[5, 6, 7], [9, 10, 11]], maxNewTokens: 4, eosTokenId: [] });
    const sampled = await model.generate({ inputIds: [[5, 6, 7]], maxNewTokens: 4, eosTokenId: [], doSample: true, temperature: 0.7, topP: 0.9, seed: 1 });
    assert.deepEqual([greedy[0].length, greedy[1].length, sampled[0].length], [7, 7, 7]);
    trainer.optimizer!.dispose();
    model.dispose();
  } finally {
    backend.warnFallback = warnFallback;
  }
  return forwarded;
}

// Registered only where a GPU answers, like the tests above.
if (hasGpu) test('on a GPU: the walkthrough\'s training, evaluation and generation run every kernel on the device (fp32, bf16 matmuls with flash attention; float16 and bfloat16 compute)', async () => {
  assert.equal(registerCudaBackend().ok, true);
  await tf.setBackend('cuda');
  const backend = tf.backend() as unknown as CudaBackend;
  const bf16Matmul = backend.bf16Matmul;
  const before = tf.memory().numTensors;
  try {
    for (const [matmul, computeDtype, optim] of [[false, 'float16', 'paged_adamw_8bit'], [true, 'bfloat16', 'adamw_torch'], [true, 'float16', 'paged_adamw_8bit']] as const) {
      backend.bf16Matmul = matmul;
      const forwarded = await walkthroughKernels(backend, computeDtype, optim);
      assert.deepEqual([...new Set(forwarded)], [], `${matmul ? 'bf16' : 'fp32'} matmuls, compute ${computeDtype}, ${optim}: kernels forwarded to the CPU`);
    }
  } finally {
    backend.bf16Matmul = bf16Matmul;
  }
  assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
});
