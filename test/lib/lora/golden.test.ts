import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { AutoModelForCausalLM } from '../../../lib/model/llama';
import { SafetensorsFile } from '../../../lib/model/safetensors';
import { LoraConfig } from '../../../lib/lora/config';
import { PeftModel, getPeftModel } from '../../../lib/lora/peft_model';
import { formatTrainableParameters, parameterCounts } from '../../../lib/lora/count';
import { DYNAMIC_MAP } from '../../../lib/quant/codebooks';
import { quantize4bit, type Quantized4bit } from '../../../lib/quant/quant_state';
import { packageRoot } from '../../../lib/package_root';

/** References made by scripts/golden/peft/make_refs.py with Python PEFT 0.21 / transformers 5.17 (see test/fixtures/peft/README.md). */
const FIX = path.join(packageRoot(), 'test/fixtures');
const BASE = path.join(FIX, 'llama/gqa');
const refs = JSON.parse(fs.readFileSync(path.join(FIX, 'peft/refs.json'), 'utf8'));
const IDS: number[][] = refs.input_ids;

function relL2(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < want.length; i++) {
    d += (got[i] - want[i]) ** 2;
    n += want[i] ** 2;
  }
  return Math.sqrt(d / n);
}

async function logitsOf(m: { forward(a: { inputIds: number[][] }): { logits: tf.Tensor } }): Promise<Float32Array> {
  const t = m.forward({ inputIds: IDS }).logits;
  const v = (await t.data()) as Float32Array;
  t.dispose();
  return v;
}

test('an adapter saved by Python PEFT loads and gives PEFT\'s logits (on, disabled, merged), leaking nothing', async () => {
  const base = await AutoModelForCausalLM.fromPretrained(BASE);
  const before = tf.memory().numTensors;
  const peft = await PeftModel.fromPretrained(base, path.join(FIX, 'peft/peft_adapter'));
  const r = refs.peft_adapter;
  assert.ok(relL2(await logitsOf(peft), r.logits) < 1e-4);
  assert.ok(relL2(await peft.withAdapterDisabled(() => logitsOf(peft)), r.logits_disabled) < 1e-4);
  assert.ok(relL2(r.logits, r.logits_disabled) > 1e-2, 'the reference adapter changes the logits');
  assert.equal(formatTrainableParameters(parameterCounts(peft).map((p) => ({ ...p, trainable: /lora_/.test(p.name) }))), r.printout);
  const merged = peft.mergeAndUnload();
  assert.ok(relL2(await logitsOf(merged), r.logits_merged) < 1e-4);
  merged.dispose();
  assert.ok(tf.memory().numTensors <= before);
});

test('PEFT loaded the adapter qlora-ts saved and computed our logits', () => {
  const r = refs.ours_in_peft;
  assert.equal(r.error, undefined);
  assert.ok(r.rel_l2 < 1e-5, `PEFT vs ours: ${r.rel_l2}`);
  assert.ok(r.adapter_effect_l2 > 1e-2, 'our adapter changes the logits');
});

test('our adapter fixture is still what qlora-ts saves (config round trip, same logits)', async () => {
  const dir = path.join(FIX, 'peft/ours/adapter');
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
  assert.deepEqual({ ...LoraConfig.fromJSON(json).toJSON(), inference_mode: true }, json);
  const peft = await PeftModel.fromPretrained(await AutoModelForCausalLM.fromPretrained(BASE), dir);
  const ours = JSON.parse(fs.readFileSync(path.join(FIX, 'peft/ours/logits.json'), 'utf8'));
  // The fixture's logits came from the CPU backends; cuBLAS sums in another order (measured on the
  // H200: above 1e-6, the bound the CPU backends meet), so on cuda the bound is PEFT's cross-stack 1e-5.
  const bound = tf.getBackend() === 'cuda' ? 1e-5 : 1e-6;
  const err = relL2(await logitsOf(peft), ours.logits);
  assert.ok(err < bound, `relative L2 ${err} against the saved logits, bound ${bound} on ${tf.getBackend()}`);
  assert.ok(relL2(refs.ours_in_peft.logits, ours.logits) < 1e-5);
  peft.dispose();
});

test('a fresh getPeftModel has PEFT\'s parameter names in the safetensors file PEFT wrote', async () => {
  const f = SafetensorsFile.open(path.join(FIX, 'peft/peft_adapter/adapter_model.safetensors'));
  const keys = f.keys().sort();
  f.close();
  const cfg = LoraConfig.fromJSON(JSON.parse(fs.readFileSync(path.join(FIX, 'peft/peft_adapter/adapter_config.json'), 'utf8')));
  const peft = getPeftModel(await AutoModelForCausalLM.fromPretrained(BASE), cfg);
  const ours = peft.namedParameters().filter(([n]) => n.includes('lora_')).map(([n]) => n.replace('.default.', '.')).sort();
  assert.deepEqual(ours, keys);
  peft.dispose();
});

function checkLayout(got: Quantized4bit, want: Record<string, unknown>): void {
  assert.deepEqual(Array.from(got.packed), want.packed);
  if (want.absmax_bits) assert.deepEqual(Array.from(new Uint32Array(got.state.absmax!.buffer)), want.absmax_bits);
  if (want.qabsmax) {
    const nested = got.state.nested!;
    assert.deepEqual(Array.from(nested.qabsmax), want.qabsmax);
    // the offset is torch's float32 mean (its own summation order; ours sums in float64): equal within
    // a few ulp, and so are the nested absmax values max|absmax − offset|; the 8-bit codes are equal
    const nestedWant = new Float32Array(Uint32Array.from(want.nested_absmax_bits as number[]).buffer);
    nested.absmax.forEach((v, i) => assert.ok(Math.abs(v - nestedWant[i]) <= 1e-6 * Math.abs(nestedWant[i]), `nested absmax ${i}`));
    const offset = new Float32Array(Uint32Array.of(want.offset_bits as number).buffer)[0];
    assert.ok(Math.abs(nested.offset - offset) <= 4e-7 * Math.abs(offset), `offset ${nested.offset} vs ${offset}`);
  }
}

test('NF4/FP4 bytes, absmax and double quantization equal the numpy reference of bitsandbytes\' algorithm', () => {
  const q = refs.quant;
  assert.deepEqual(Array.from(new Uint32Array(DYNAMIC_MAP.buffer)), q.dynamic_map_bits);
  const f = SafetensorsFile.open(path.join(BASE, 'model.safetensors'));
  const w = f.readTensor('model.layers.0.mlp.down_proj.weight');
  f.close();
  checkLayout(quantize4bit(w, { quantType: 'nf4' }), q.down_proj_nf4);
  checkLayout(quantize4bit(w, { quantType: 'fp4' }), q.down_proj_fp4);
  checkLayout(quantize4bit(w, { quantType: 'nf4', compressStatistics: true }), q.down_proj_nf4_double);
  w.dispose();
  const r = new Float32Array(Uint32Array.from(q.randn.values_bits).buffer);
  checkLayout(quantize4bit(r, { quantType: 'nf4', blocksize: 128, compressStatistics: true }), q.randn_nf4_128_double);
  checkLayout(quantize4bit(r, { quantType: 'fp4', blocksize: 32 }), q.randn_fp4_32);
});
