import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { ArgumentError, CheckpointError } from '../../../lib/errors';
import { Module } from '../../../lib/nn/module';
import { Linear, type LinearLike, type LinearQuantizer } from '../../../lib/nn/linear';
import { AutoModelForCausalLM, LlamaForCausalLM } from '../../../lib/model/llama';
import { LlamaConfig } from '../../../lib/model/config';
import { SafetensorsFile, encodeRaw, saveSafetensors, type RawTensor } from '../../../lib/model/safetensors';
import { tempDir } from '../../tmp';

const tmp = tempDir('llama');
const TINY = { vocabSize: 96, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 64 };
const IDS = [[5, 9, 17, 33, 2, 8, 60], [1, 4, 4, 90, 12, 7, 3]];

/** max |a − b| / max |a|, computed without leaving tensors behind. */
function maxRel(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / tf.max(tf.abs(a)).dataSync()[0]);
}

async function gradsOf(model: LlamaForCausalLM, labels = IDS) {
  const { value, grads } = tf.variableGrads(() => model.forward({ inputIds: IDS, labels }).loss!);
  const out = { loss: (await value.data())[0], grads: new Map<string, Float32Array>() };
  for (const [name, v] of model.namedParameters()) if (grads[v.name]) out.grads.set(name, (await grads[v.name].data()) as Float32Array);
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

test('fromConfig builds the HF module tree; numParameters and getMemoryFootprint count a tied head once', async () => {
  await ensureBackend();
  const untied = LlamaForCausalLM.fromConfig(TINY, { seed: 3 });
  const names = untied.namedParameters().map(([n]) => n);
  assert.equal(names[0], 'model.embed_tokens.weight');
  assert.ok(names.includes('model.layers.1.self_attn.k_proj.weight'));
  assert.ok(names.includes('model.layers.0.mlp.gate_proj.weight'));
  assert.ok(names.includes('model.layers.1.post_attention_layernorm.weight'));
  assert.equal(names.at(-1), 'lm_head.weight');
  const h = 32, m = 48, kv = 2 * 8, V = 96;
  const perLayer = h * h + 2 * h * kv + h * h + 3 * h * m + 2 * h;
  assert.equal(untied.numParameters(), V * h + 2 * perLayer + h + V * h);
  assert.equal(untied.getMemoryFootprint(), 4 * untied.numParameters());
  assert.deepEqual((untied.model.layers[0].self_attn.k_proj as Linear).weight.shape, [kv, h]);
  const tied = LlamaForCausalLM.fromConfig({ ...TINY, tieWordEmbeddings: true }, { seed: 3 });
  assert.equal(tied.numParameters(), V * h + 2 * perLayer + h);
  assert.equal((tied.lm_head as Linear).weight, tied.model.embed_tokens.weight);
  for (const [, v] of tied.model.layers[0].mlp.namedParameters()) v.trainable = false;
  assert.equal(tied.numParameters({ onlyTrainable: true }), V * h + 2 * perLayer + h - 3 * h * m);
  // padding_idx row is zero as torch initialises it; weights are normal(0, 0.02)
  const withPad = LlamaForCausalLM.fromConfig({ ...TINY, padTokenId: 0 }, { seed: 1 });
  const emb = (await withPad.model.embed_tokens.weight.array()) as number[][];
  assert.ok(emb[0].every((x) => x === 0));
  const std = Math.sqrt(emb.slice(1).flat().reduce((a, x) => a + x * x, 0) / (95 * 32));
  assert.ok(Math.abs(std - 0.02) < 0.002, `init std ${std}`);
  [untied, tied, withPad].forEach((x) => x.dispose());
});

test('fromConfig draws the same weights for the same seed, seed 0 included, and other weights for another seed', async () => {
  await ensureBackend();
  const embedding = (seed: number) => {
    const model = LlamaForCausalLM.fromConfig(TINY, { seed });
    const values = model.model.embed_tokens.weight.dataSync().slice();
    model.dispose();
    return values;
  };
  assert.deepEqual(embedding(0), embedding(0));
  assert.deepEqual(embedding(7), embedding(7));
  assert.notDeepEqual(embedding(0), embedding(7));
});

test('gradients reach every parameter through tf.variableGrads; labels -100 are ignored; no leaks', async () => {
  await ensureBackend();
  const model = LlamaForCausalLM.fromConfig({ ...TINY, tieWordEmbeddings: true }, { seed: 5 });
  const before = tf.memory().numTensors;
  const g = await gradsOf(model);
  assert.equal(g.grads.size, model.namedParameters().length); // lm_head.weight is embed_tokens' variable: same gradient
  assert.deepEqual(g.grads.get('lm_head.weight'), g.grads.get('model.embed_tokens.weight'));
  for (const [name, grad] of g.grads) assert.ok(grad.some((x) => x !== 0), `${name} got a zero gradient`);
  const masked = IDS.map((row) => row.map((id, t) => (t < 4 ? -100 : id)));
  const g2 = await gradsOf(model, masked);
  assert.notEqual(g2.loss, g.loss);
  const all = await gradsOf(model, IDS.map((row) => row.map(() => -100)));
  assert.equal(Math.abs(all.loss), 0); // nothing counted: 0 (torch would give NaN), gradients zero
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

test('gradient checkpointing gives the same loss and gradients and keeps fewer bytes alive for backward', async () => {
  await ensureBackend();
  const model = LlamaForCausalLM.fromConfig(TINY, { seed: 7 });
  const plain = await gradsOf(model);
  model.gradientCheckpointingEnable();
  const ckpt = await gradsOf(model);
  assert.ok(Math.abs(plain.loss - ckpt.loss) < 1e-6);
  for (const [name, a] of plain.grads) {
    const b = ckpt.grads.get(name)!;
    const err = Math.max(...a.map((x, i) => Math.abs(x - b[i]))) / Math.max(...a.map(Math.abs));
    assert.ok(err < 1e-5, `${name}: relative difference ${err}`);
  }
  // bytes alive at the end of the forward pass (what the tape keeps for backward)
  const keptBytes = () => {
    let bytes = 0;
    const { value, grads } = tf.variableGrads(() => {
      const loss = model.forward({ inputIds: IDS, labels: IDS }).loss!;
      bytes = tf.memory().numBytes;
      return loss;
    });
    tf.dispose([value, ...Object.values(grads)]);
    return bytes;
  };
  const withCkpt = keptBytes();
  model.gradientCheckpointingDisable();
  const without = keptBytes();
  assert.ok(withCkpt < without, `checkpointing keeps ${withCkpt} bytes, plain ${without}`);
  model.dispose();
});

/** A linear with counter-seeded dropout on its output, like the LoRA layer's (random state to replay). */
class DropoutLinear extends Module implements LinearLike {
  dropoutCalls = 0;
  constructor(readonly inner: Linear) {
    super();
  }
  get inFeatures() { return this.inner.inFeatures; }
  get outFeatures() { return this.inner.outFeatures; }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.dropout(this.inner.forward(x), 0.3, undefined, 1000 + this.dropoutCalls++));
  }
}

test('gradient checkpointing replays dropout: the recomputed mask equals the forward one', async () => {
  await ensureBackend();
  const model = LlamaForCausalLM.fromConfig(TINY, { seed: 9 });
  const drops = model.model.layers.map((layer) => {
    const d = new DropoutLinear(layer.mlp.up_proj as Linear);
    layer.mlp.up_proj = d;
    return d;
  });
  const plain = await gradsOf(model);
  drops.forEach((d) => (d.dropoutCalls = 0));
  model.gradientCheckpointingEnable();
  const ckpt = await gradsOf(model);
  assert.ok(Math.abs(plain.loss - ckpt.loss) < 1e-6);
  assert.deepEqual(drops.map((d) => d.dropoutCalls), [1, 1], 'the counter ends where one forward leaves it');
  for (const [name, a] of plain.grads) {
    const b = ckpt.grads.get(name)!;
    const err = Math.max(...a.map((x, i) => Math.abs(x - b[i]))) / Math.max(...a.map(Math.abs));
    assert.ok(err < 1e-5, `${name}: relative difference ${err}`);
  }
  model.dispose();
});

test('KV cache: incremental forward equals the full forward; masks and shapes are checked', async () => {
  await ensureBackend();
  const model = LlamaForCausalLM.fromConfig(TINY, { seed: 11 });
  const before = tf.memory().numTensors;
  const full = model.forward({ inputIds: IDS });
  const first = model.forward({ inputIds: IDS.map((r) => r.slice(0, 5)), useCache: true });
  assert.equal(first.pastKeyValues!.length, 5);
  assert.deepEqual(first.pastKeyValues!.layers[0].key.shape, [2, 2, 5, 8]); // (B, nKv, S, headDim)
  const second = model.forward({ inputIds: IDS.map((r) => r.slice(5)), pastKeyValues: first.pastKeyValues, useCache: true });
  assert.equal(second.pastKeyValues!.length, 7);
  const a = tf.slice(full.logits, [0, 5, 0], [2, 2, 96]);
  const diff = maxRel(a, second.logits);
  assert.ok(diff < 1e-5, `cache path differs by ${diff}`);
  tf.dispose([full.logits, first.logits, second.logits, a]);
  first.pastKeyValues!.dispose();
  second.pastKeyValues!.dispose();
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => model.forward({ inputIds: [[1, 2], [3]] }), ArgumentError);
  assert.throws(() => model.forward({ inputIds: [[1, 96]] }), /outside the vocabulary/);
  assert.throws(() => model.forward({ inputIds: [[1, 2]], attentionMask: [[1, 1, 1]] }), /attention_mask/);
  model.dispose();
});

test('savePretrained writes HF files atomically (bf16 default, tied head left out) and fromPretrained reads them back', async () => {
  await ensureBackend();
  const model = LlamaForCausalLM.fromConfig({ ...TINY, tieWordEmbeddings: true }, { seed: 13 });
  model.eval();
  const dir32 = path.join(tmp, 'f32');
  await model.savePretrained(dir32, { dtype: 'F32' });
  assert.deepEqual(fs.readdirSync(dir32).sort(), ['config.json', 'generation_config.json', 'model.safetensors']);
  const cfg = JSON.parse(fs.readFileSync(path.join(dir32, 'config.json'), 'utf8'));
  assert.equal(cfg.num_key_value_heads, 2);
  assert.equal(cfg.tie_word_embeddings, true);
  assert.equal(cfg.torch_dtype, 'float32');
  const st = SafetensorsFile.open(path.join(dir32, 'model.safetensors'));
  assert.ok(!st.has('lm_head.weight'));
  assert.equal(st.info('model.norm.weight').dtype, 'F32');
  st.close();
  const back = await AutoModelForCausalLM.fromPretrained(dir32);
  back.eval();
  const a = model.forward({ inputIds: IDS }).logits;
  const b = back.forward({ inputIds: IDS }).logits;
  assert.deepEqual(await a.data(), await b.data());
  const dir16 = path.join(tmp, 'bf16');
  await model.savePretrained(dir16);
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir16, 'config.json'), 'utf8')).torch_dtype, 'bfloat16');
  const st16 = SafetensorsFile.open(path.join(dir16, 'model.safetensors'));
  assert.equal(st16.info('model.layers.0.self_attn.q_proj.weight').dtype, 'BF16');
  st16.close();
  await assert.rejects(model.savePretrained(dir16, { dtype: 'int8' as never }), /`dtype` "int8" is not one of/);
  const dirF16 = path.join(tmp, 'f16');
  await model.savePretrained(dirF16, { dtype: 'float16' });
  assert.equal(JSON.parse(fs.readFileSync(path.join(dirF16, 'config.json'), 'utf8')).torch_dtype, 'float16');
  const back16 = await AutoModelForCausalLM.fromPretrained(dir16);
  back16.eval();
  const c = back16.forward({ inputIds: IDS }).logits;
  const rel = maxRel(a, c);
  assert.ok(rel > 0 && rel < 0.05, `bf16 copy differs by ${rel}`);
  tf.dispose([a, b, c]);
  [model, back, back16].forEach((x) => x.dispose());
});

/** A real (if simple) quantizer: int8 per-row absmax, enough to exercise the loader's contract. */
class Int8Linear extends Module implements LinearLike {
  qweight: tf.Tensor; // (out, in) int32 holding int8 codes
  absmax: tf.Tensor; // (out, 1)
  constructor(readonly inFeatures: number, readonly outFeatures: number, qweight: tf.Tensor, absmax: tf.Tensor) {
    super();
    this.qweight = qweight;
    this.absmax = absmax;
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const w = tf.mul(tf.cast(this.qweight, 'float32'), tf.div(this.absmax, 127)); // (out, in)
      const y = tf.matMul(tf.reshape(x, [-1, this.inFeatures]), w, false, true);
      return tf.reshape(y, [...x.shape.slice(0, -1), this.outFeatures]);
    });
  }
}

class Int8Quantizer implements LinearQuantizer {
  quantized: string[] = [];
  loaded: string[] = [];
  skips(name: string): boolean {
    return name === 'lm_head';
  }
  /** Bytes alive when each weight arrives, less what the quantized layers so far hold. */
  unquantizedBytes: number[] = [];
  private heldBytes = 0;
  quantizeLinear(name: string, weight: tf.Tensor): LinearLike {
    this.quantized.push(name);
    this.unquantizedBytes.push(tf.memory().numBytes - this.heldBytes);
    const [out, inF] = weight.shape;
    this.heldBytes += 4 * (out * inF + out);
    const absmax = tf.tidy(() => tf.max(tf.abs(weight), 1, true)); // (out, 1)
    const q = tf.tidy(() => tf.cast(tf.round(tf.mul(tf.div(weight, absmax), 127)), 'int32'));
    weight.dispose();
    return new Int8Linear(inF, out, q, absmax);
  }
  loadQuantizedLinear(name: string, state: Map<string, RawTensor | { dtype: string; shape: number[]; data: Uint8Array }>): LinearLike {
    this.loaded.push(name);
    const w = state.get('weight')!;
    const a = state.get('weight.absmax')!;
    const codes = Int32Array.from(new Int8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength));
    return new Int8Linear(w.shape[1], w.shape[0], tf.tensor(codes, w.shape, 'int32'), tf.tensor(new Float32Array(a.data.slice().buffer), a.shape));
  }
}

test('fromPretrained hands each decoder linear to the quantizer as it is read, skips lm_head, and loads stored quantized state', async () => {
  await ensureBackend();
  const model = LlamaForCausalLM.fromConfig(TINY, { seed: 17 });
  model.eval();
  const dir = path.join(tmp, 'for-quant');
  await model.savePretrained(dir, { dtype: 'F32' });
  const before = tf.memory().numTensors;
  const before0 = tf.memory().numBytes;
  const q = new Int8Quantizer();
  const qm = await AutoModelForCausalLM.fromPretrained(dir, { quantizationConfig: q });
  assert.equal(q.quantized.length, 2 * 7);
  assert.equal(q.quantized[0], 'model.layers.0.self_attn.q_proj');
  // Streaming: when a weight arrives, the only full-precision decoder weight alive is that one
  // (besides what existed before, the embedding and the norms read so far).
  const h = 32, V = 96, inter = 48;
  const allowed = before0 + 4 * (V * h + 5 * h) + 4 * h * inter;
  if (process.env.QLORA_TS_VERBOSE) console.log({ allowed, bytes: q.unquantizedBytes });
  for (const b of q.unquantizedBytes) assert.ok(b <= allowed, `${b} bytes alive besides the quantized layers (allowed ${allowed})`);
  assert.ok(!q.quantized.includes('lm_head'));
  assert.ok(qm.lm_head instanceof Linear);
  assert.ok(qm.model.layers[1].mlp.down_proj instanceof Int8Linear);
  qm.eval();
  const a = model.forward({ inputIds: IDS }).logits;
  const b = qm.forward({ inputIds: IDS }).logits;
  const rel = maxRel(a, b);
  assert.ok(rel < 0.05, `int8 model differs by ${rel}`);
  tf.dispose([a, b]);
  qm.dispose();
  assert.equal(tf.memory().numTensors, before, 'loading keeps nothing but the model, which is disposed');

  // A checkpoint that already holds quantized state (`*.weight.absmax`) goes to loadQuantizedLinear.
  const qdir = path.join(tmp, 'prequantized');
  fs.mkdirSync(qdir, { recursive: true });
  fs.copyFileSync(path.join(dir, 'config.json'), path.join(qdir, 'config.json'));
  const tensors = new Map<string, RawTensor>();
  for (const [name, t] of model.stateDict()) {
    const values = (await t.data()) as Float32Array;
    if (/layers\.\d+\.(self_attn|mlp)\.\w+_proj\.weight$/.test(name)) {
      const [out, inF] = t.shape;
      const absmax = new Float32Array(out);
      const codes = new Int8Array(out * inF);
      for (let r = 0; r < out; r++) {
        for (let c = 0; c < inF; c++) absmax[r] = Math.max(absmax[r], Math.abs(values[r * inF + c]));
        for (let c = 0; c < inF; c++) codes[r * inF + c] = Math.round((values[r * inF + c] / absmax[r]) * 127);
      }
      tensors.set(name, { dtype: 'I8', shape: [out, inF], data: new Uint8Array(codes.buffer) });
      tensors.set(`${name}.absmax`, { dtype: 'F32', shape: [out, 1], data: encodeRaw(absmax, 'F32') });
    } else {
      tensors.set(name, { dtype: 'F32', shape: [...t.shape], data: encodeRaw(values, 'F32') });
    }
  }
  await saveSafetensors(path.join(qdir, 'model.safetensors'), tensors);
  const q2 = new Int8Quantizer();
  const pre = await AutoModelForCausalLM.fromPretrained(qdir, { quantizationConfig: q2 });
  assert.equal(q2.loaded.length, 14);
  assert.equal(q2.quantized.length, 0);
  pre.dispose();
  model.dispose();
});

test('fromPretrained names the tensor when the checkpoint does not match config.json', async () => {
  await ensureBackend();
  const model = LlamaForCausalLM.fromConfig(TINY, { seed: 19 });
  const dir = path.join(tmp, 'mismatch');
  await model.savePretrained(dir, { dtype: 'F32' });
  model.dispose();
  const cfg = new LlamaConfig({ ...TINY, intermediateSize: 40 });
  await cfg.savePretrained(dir);
  await assert.rejects(AutoModelForCausalLM.fromPretrained(dir), (e: unknown) => e instanceof CheckpointError && /model\.layers\.0\.mlp\.gate_proj\.weight/.test(e.message) && /\[40, 32\]/.test(e.message));
});
