import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { Linear } from '../../../lib/nn/linear';
import { Module } from '../../../lib/nn/module';
import { Linear4bit } from '../../../lib/quant/linear4bit';
import { dequantize4bitComposite, hasMatmul4bit } from '../../../lib/quant/dequantize_op';
import { dequantize4bitValues, quantize4bit } from '../../../lib/quant/quant_state';
import { BitsAndBytesConfig } from '../../../lib/quant/bnb_config';
import { prepareModelForKbitTraining } from '../../../lib/quant/prepare';
import { AutoModelForCausalLM, LlamaForCausalLM } from '../../../lib/model/llama';

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

for (const backend of ['cpu', 'wasm']) {
  test(`Dequantize4bit kernel on ${backend} equals host dequantization and the composite, plain and nested, transposed`, async () => {
    await ensureBackend();
    await tf.setBackend(backend);
    try {
      const w = tf.randomNormal([24, 96], 0, 0.05, 'float32', 11); // 2304 elements: 36 blocks of 64
      for (const compressStatistics of [false, true]) {
        const layer = Linear4bit.fromLinearWeight(w, { quantType: 'nf4', compressStatistics });
        const q = quantize4bit(w, { compressStatistics });
        const host = tf.tensor2d(dequantize4bitValues(q.packed, q.state), [24, 96]);
        const before = tf.memory().numTensors;
        const kernel = layer.dequantize();
        const kernelT = layer.dequantize(true);
        assert.equal(tf.memory().numTensors, before + 2);
        assert.deepEqual(kernelT.shape, [96, 24]);
        assert.equal(maxDiff(kernel, host), 0);
        const t = tf.transpose(kernelT);
        assert.equal(maxDiff(t, host), 0);
        const inputs = { packed: layer.weight, code: layer.quant_map, absmax: layer.absmax, nestedAbsmax: layer.nested_absmax, nestedCode: layer.nested_quant_map };
        const attrs = { shape: [24, 96] as [number, number], blocksize: 64, transpose: false, nested: compressStatistics, nestedBlocksize: 256, offset: q.state.nested?.offset ?? 0 };
        // the composite needs exact int32 floorDiv/mod (cpu, webgpu); wasm's go through float32, and wasm has the kernel
        await tf.setBackend('cpu');
        const composite = dequantize4bitComposite(inputs, attrs);
        assert.ok(maxDiff(composite, host) < 1e-7);
        await tf.setBackend(backend);
        tf.dispose([kernel, kernelT, t, host, composite]);
        layer.dispose();
      }
      w.dispose();
    } finally {
      await tf.setBackend('wasm');
    }
  });
}

test('Linear4bit forward is x · dequant(W)ᵀ + b, input gradient dy · W, no weight gradient, no leak', async () => {
  await ensureBackend();
  const w = tf.randomNormal([12, 64], 0, 0.1, 'float32', 5);
  const b = tf.randomNormal([12], 0, 0.1, 'float32', 6);
  const layer = Linear4bit.fromLinearWeight(w, { quantType: 'nf4', bias: b });
  const ref = new Linear(64, 12, { weight: layer.dequantize(), bias: b });
  const x = tf.randomNormal([2, 3, 64], 0, 1, 'float32', 8);
  const before = tf.memory().numTensors;
  const y = layer.forward(x);
  const yRef = ref.forward(x);
  assert.deepEqual(y.shape, [2, 3, 12]);
  assert.ok(maxDiff(y, yRef) < 1e-5);
  const loss = (f: (x: tf.Tensor) => tf.Tensor) => (xi: tf.Tensor) => tf.sum(tf.mul(f(xi), tf.range(0, 72).reshape([2, 3, 12])));
  const gx = tf.grad(loss((xi) => layer.forward(xi)))(x);
  const gxRef = tf.grad(loss((xi) => ref.forward(xi)))(x);
  assert.ok(maxDiff(gx, gxRef) < 1e-4);
  assert.deepEqual(layer.trainableParameters(), []); // the packed weight (and bias) are frozen
  assert.equal(layer.weight.trainable, false);
  tf.dispose([y, yRef, gx, gxRef]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([w, b, x]);
  layer.dispose();
  ref.dispose();
});

for (const backend of ['cpu', 'wasm']) {
  test(`Linear4bit on ${backend} (no Matmul4bit kernel) computes in float32 whatever the compute dtype: float16, bfloat16 and float32 agree bit for bit`, async () => {
    await ensureBackend();
    await tf.setBackend(backend);
    try {
      assert.equal(hasMatmul4bit(), false);
      const w = tf.randomNormal([24, 64], 0, 0.1, 'float32', 21);
      const x = tf.randomNormal([5, 64], 0, 1, 'float32', 22);
      const values = (computeDtype: 'float16' | 'bfloat16' | 'float32') => {
        const layer = Linear4bit.fromLinearWeight(w, { quantType: 'nf4', compressStatistics: true, computeDtype });
        const y = layer.forward(x);
        const gx = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(layer.forward(xi), tf.range(0, 120).reshape([5, 24]))))(x);
        const out = [Array.from(y.dataSync()), Array.from(gx.dataSync())];
        tf.dispose([y, gx]);
        layer.dispose();
        return out;
      };
      const fp32 = values('float32');
      assert.deepEqual(values('float16'), fp32);
      assert.deepEqual(values('bfloat16'), fp32);
      tf.dispose([w, x]);
    } finally {
      await tf.setBackend('wasm');
    }
  });
}

test('Linear4bit keeps 1/8 of the fp32 bytes plus absmax in tf memory', async () => {
  await ensureBackend();
  const w = tf.randomNormal([256, 512], 0, 0.02, 'float32', 2);
  const before = tf.memory().numBytes;
  const plain = Linear4bit.fromLinearWeight(w, {});
  const plainBytes = tf.memory().numBytes - before;
  const nested = Linear4bit.fromLinearWeight(w, { compressStatistics: true });
  const nestedBytes = tf.memory().numBytes - before - plainBytes;
  const fp32 = 256 * 512 * 4;
  assert.equal(plainBytes, fp32 / 8 + (256 * 512 / 64) * 4 + 16 * 4); // packed + fp32 absmax + code
  assert.equal(nestedBytes, fp32 / 8 + 256 * 512 / 64 + 8 * 4 + 256 * 4 + 16 * 4); // + uint8 absmax, nested absmax, map
  assert.equal(plain.numWeights(), 256 * 512);
  tf.dispose([w]);
  plain.dispose();
  nested.dispose();
});

test('BitsAndBytesConfig validates like transformers and writes quantization_config', () => {
  assert.throws(() => new BitsAndBytesConfig({ loadIn8bit: true }), /`load_in_8bit=True` is not supported/);
  assert.throws(() => new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf3' as 'nf4' }), /`bnb_4bit_quant_type` must be 'nf4' or 'fp4', got "nf3"/);
  assert.throws(() => new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitComputeDtype: 'int8' as 'float16' }), /`bnb_4bit_compute_dtype` must be one of/);
  const c = new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4', bnb4bitComputeDtype: 'float16', bnb4bitUseDoubleQuant: false });
  assert.equal(c.skips('lm_head'), true);
  assert.equal(c.skips('model.layers.0.self_attn.q_proj'), false);
  assert.equal(new BitsAndBytesConfig({ loadIn4bit: true, llmInt8SkipModules: ['mlp'] }).skips('model.layers.3.mlp.up_proj'), false);
  assert.equal(new BitsAndBytesConfig({ loadIn4bit: true, llmInt8SkipModules: ['up_proj'] }).skips('model.layers.3.mlp.up_proj'), true);
  const d = c.toDict();
  assert.equal(d.quant_method, 'bitsandbytes');
  assert.equal(d.bnb_4bit_compute_dtype, 'float16');
  assert.equal(d.load_in_4bit, true);
  assert.deepEqual(BitsAndBytesConfig.fromDict(JSON.parse(JSON.stringify(d))).toDict(), d);
});

test('4-bit loading through AutoModelForCausalLM: decoder linears quantized, lm_head/embeddings/norms not; state dict reloads', async () => {
  await ensureBackend();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-4bit-'));
  const base = LlamaForCausalLM.fromConfig({ vocabSize: 64, hiddenSize: 64, intermediateSize: 128, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 16, initializerRange: 0.1 }, { seed: 1 });
  await base.savePretrained(dir, { dtype: 'F32' });
  const config = new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4', bnb4bitComputeDtype: 'float16' });
  const model = await AutoModelForCausalLM.fromPretrained(dir, { quantizationConfig: config });
  const names = model.namedModules().filter(([, m]) => m instanceof Linear4bit).map(([n]) => n);
  assert.equal(names.length, 14);
  assert.ok(names.includes('model.layers.1.mlp.down_proj'));
  assert.ok(model.lm_head instanceof Linear);
  assert.ok(model.getMemoryFootprint() < base.getMemoryFootprint());
  // the 4-bit model computes what the fp32 model computes with the dequantized weights
  for (const name of names) {
    const lin = base.getSubmodule(name) as Linear;
    const deq = (model.getSubmodule(name) as Linear4bit).dequantize();
    lin.weight.assign(deq);
    deq.dispose();
  }
  const ids = [[1, 5, 9, 13, 2, 7]];
  const a = base.forward({ inputIds: ids }).logits;
  const b = model.forward({ inputIds: ids }).logits;
  // float16 compute where the backend has Matmul4bit (cuda) rounds x and W to float16 (2^-11 each)
  // before each product: the logits move by ≈ 1.5e-3 of their largest (measured with roundToFloat16 on
  // the host). Elsewhere the 4-bit layers compute in float32.
  const bound = hasMatmul4bit() ? 8e-3 * tf.tidy(() => tf.max(tf.abs(a)).dataSync()[0]) : 1e-4;
  assert.ok(maxDiff(a, b) < bound, `logits differ by ${maxDiff(a, b)} (bound ${bound})`);
  // a bitsandbytes-layout state dict of one layer rebuilds the same layer
  const q = model.getSubmodule('model.layers.0.self_attn.q_proj') as Linear4bit;
  const again = config.loadQuantizedLinear('model.layers.0.self_attn.q_proj', q.stateDict()) as Linear4bit;
  const d1 = q.dequantize();
  const d2 = again.dequantize();
  assert.equal(maxDiff(d1, d2), 0);
  tf.dispose([a, b, d1, d2]);
  again.dispose();
  // prepareModelForKbitTraining freezes everything and turns checkpointing on
  prepareModelForKbitTraining(model);
  assert.equal(model.trainableParameters().length, 0);
  assert.equal(model.isGradientCheckpointing, true);
  model.dispose();
  base.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('prepareModelForKbitTraining leaves checkpointing off when asked', () => {
  class Tiny extends Module {
    proj = new Linear(4, 4);
    enabled = false;
    gradientCheckpointingEnable() { this.enabled = true; }
  }
  const m = prepareModelForKbitTraining(new Tiny(), { useGradientCheckpointing: false });
  assert.equal(m.enabled, false);
  assert.equal(m.proj.weight.trainable, false);
  m.dispose();
});
