import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { DYNAMIC_MAP, FP4_CODE, NF4_CODE } from '../../../lib/quant/codebooks';
import { nearestIndex } from '../../../lib/quant/blockwise';
import { dequantize4bit, dequantize4bitValues, quantize4bit, quantStateFromDict, quantStateToDict, blockAbsmax, pyFloat } from '../../../lib/quant/quant_state';

const hex = (a: Uint8Array) => Buffer.from(a).toString('hex');

test('NF4 packs two codes per byte, first element in the high nibble, ties to the lower code', () => {
  const w = new Float32Array(64); // one block of 64, absmax 2
  w.set([2, -2, 0, 1, 2 * NF4_CODE[8], NF4_CODE[8]]);
  const tie = new Float32Array(64); // absmax 1: exact midpoint of codes 7 (0) and 8 goes down
  tie.set([1, NF4_CODE[8] / 2, Math.fround(NF4_CODE[8] / 2 + 1e-6)]);
  const a = quantize4bit(w, { quantType: 'nf4' });
  // 2/2=1 → 15; -1 → 0; 0 → 7; 0.5 → 12 (|0.5-0.4407| < |0.5-0.5626|); code8 → 8; code8/2 → tie → 7
  assert.equal(hex(a.packed.subarray(0, 4)), 'f07c8777');
  assert.deepEqual(Array.from(a.state.absmax!), [2]);
  const b = quantize4bit(tie, { quantType: 'nf4' });
  assert.equal(hex(b.packed.subarray(0, 2)), 'f787'); // 1 → 15, midpoint → 7, just above → 8, 0 → 7
  assert.equal(b.packed.length, 32);
});

test('FP4 uses the sign bit code table; -0.0001 ties between +0 and -0 and takes index 0', () => {
  const w = Float32Array.from([12, 3, -6, -0.0001, 0.5, 1.5, -12, 8, ...new Array(24).fill(0)]);
  const q = quantize4bit(w, { quantType: 'fp4', blocksize: 32 });
  // 12→1.0 (3); 3→0.25 (7); -6→-0.5 (13); ≈0 → 0; 0.5/12=0.0417 → 0.0052 (1); 1.5/12=0.125 → 2/12 (6); -12 → -1 (11); 8/12 (2)
  assert.equal(hex(q.packed.subarray(0, 4)), '37d016b2');
  const back = dequantize4bitValues(q.packed, q.state);
  assert.deepEqual(Array.from(back.subarray(0, 8)), [12, 3, -6, 0, 0.0625, 2, -12, 8]);
  assert.equal(FP4_CODE[8], -0);
});

test('a short last block and odd length pack like bitsandbytes (ceil(n/2) bytes, low nibble 0)', () => {
  const w = Float32Array.from({ length: 67 }, (_, i) => (i % 5) - 2);
  const q = quantize4bit(w, { quantType: 'nf4', blocksize: 32 });
  assert.equal(q.packed.length, 34);
  assert.equal(q.state.absmax!.length, 3);
  assert.equal(q.packed[33] & 15, 0);
  const back = dequantize4bitValues(q.packed, q.state);
  // −2..2 with absmax 2: ±1 and 0 exact, −0.5 → code 2 (−0.5251), 0.5 → code 12 (0.4407)
  const expected = [-2, Math.fround(2 * NF4_CODE[2]), 0, Math.fround(2 * NF4_CODE[12]), 2];
  assert.deepEqual(Array.from(back), Array.from(w, (_, i) => expected[i % 5]));
});

test('blocksize and quant type are validated with the argument name and value', () => {
  assert.throws(() => quantize4bit(new Float32Array(64), { blocksize: 48 }), /`blocksize` must be a power of two from 32 to 4096, got 48/);
  assert.throws(() => quantize4bit(new Float32Array(64), { blocksize: 8192 }), /got 8192/);
  assert.throws(() => quantize4bit(new Float32Array(64), { quantType: 'int4' as 'nf4' }), /`quantType` must be 'nf4' or 'fp4', got "int4"/);
});

test('bitsandbytes statistics: randn 1024×1024, blocksize 64 → NF4 0.0728 / 0.2033, FP4 0.0965 / 0.2601', async () => {
  await ensureBackend();
  const a = tf.randomNormal([1024, 1024], 0, 1, 'float32', 7);
  const values = a.dataSync() as Float32Array;
  for (const [quantType, err, rel] of [['nf4', 0.072792, 0.203299], ['fp4', 0.096545, 0.260130]] as const) {
    const q = quantize4bit(a, { quantType });
    const back = dequantize4bitValues(q.packed, q.state);
    let sumErr = 0;
    let sumRel = 0;
    for (let i = 0; i < values.length; i++) {
      const e = Math.abs(values[i] - back[i]);
      sumErr += e;
      sumRel += e / (Math.abs(values[i]) + 1e-8);
    }
    assert.ok(Math.abs(sumErr / values.length - err) < 1e-3, `${quantType} mean abs error ${sumErr / values.length}`);
    assert.ok(Math.abs(sumRel / values.length - rel) < 5e-3, `${quantType} mean rel error ${sumRel / values.length}`);
  }
  a.dispose();
});

test('double quantization: offset = mean absmax, 8-bit codes in blocks of 256, close to plain absmax', async () => {
  await ensureBackend();
  const a = tf.randomNormal([64, 1024], 0, 0.02, 'float32', 3);
  const plain = quantize4bit(a, { quantType: 'nf4' });
  const dq = quantize4bit(a, { quantType: 'nf4', compressStatistics: true });
  a.dispose();
  assert.equal(hex(dq.packed), hex(plain.packed));
  const absmax = plain.state.absmax!;
  const mean = absmax.reduce((s, v) => s + v, 0) / absmax.length;
  assert.ok(Math.abs(dq.state.nested!.offset - mean) < 1e-7);
  assert.equal(dq.state.nested!.qabsmax.length, 1024);
  assert.equal(dq.state.nested!.absmax.length, 4);
  const restored = blockAbsmax(dq.state);
  for (let i = 0; i < absmax.length; i++) assert.ok(Math.abs(restored[i] - absmax[i]) < 0.01 * absmax[i], `block ${i}`);
});

test('state dict has bitsandbytes keys and JSON, and round-trips', () => {
  const w = Float32Array.from({ length: 64 * 4 }, (_, i) => Math.sin(i));
  const q = quantize4bit(w, { quantType: 'nf4', compressStatistics: true });
  q.state.shape = [4, 64];
  const dict = quantStateToDict(q);
  assert.deepEqual([...dict.keys()], ['weight', 'weight.absmax', 'weight.quant_map', 'weight.nested_absmax', 'weight.nested_quant_map', 'weight.quant_state.bitsandbytes__nf4']);
  assert.deepEqual(dict.get('weight')!.shape, [128, 1]);
  assert.equal(dict.get('weight.absmax')!.dtype, 'U8');
  const json = new TextDecoder().decode(dict.get('weight.quant_state.bitsandbytes__nf4')!.data);
  assert.equal(json, `{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [4, 64], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": ${pyFloat(q.state.nested!.offset)}}`);
  const back = quantStateFromDict(dict, 'model.layers.0.mlp.up_proj');
  assert.deepEqual(Array.from(dequantize4bitValues(back.packed, back.state)), Array.from(dequantize4bitValues(q.packed, q.state)));
  dict.delete('weight.quant_map');
  assert.throws(() => quantStateFromDict(dict, 'model.layers.0.mlp.up_proj'), /model\.layers\.0\.mlp\.up_proj: 4-bit state has no tensor 'weight\.quant_map'/);
});

test('pyFloat writes floats as Python repr does', () => {
  assert.deepEqual([1, 0.5, 1e-5, 0.0001, 1.5e16, 123.25, -2e-7].map(pyFloat), ['1.0', '0.5', '1e-05', '0.0001', '1.5e+16', '123.25', '-2e-07']);
});

test('dequantize4bit returns a tensor of the original shape and leaks nothing', async () => {
  await ensureBackend();
  const w = tf.randomUniform([8, 64], -1, 1, 'float32', 1);
  const q = quantize4bit(w, {});
  const before = tf.memory().numTensors;
  const d = dequantize4bit(q.packed, q.state);
  assert.deepEqual(d.shape, [8, 64]);
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(d, w))).dataSync()[0]);
  assert.ok(diff < 0.16, `max error ${diff}`);
  d.dispose();
  assert.equal(tf.memory().numTensors, before);
  w.dispose();
});

test('nearest-code lookup equals a float32 argmin scan (ties to the lower index) for NF4, FP4 and the dynamic map', () => {
  const argmin = (code: Float32Array, x: number) => {
    let best = 0;
    for (let i = 1; i < code.length; i++) if (Math.abs(Math.fround(x - code[i])) < Math.abs(Math.fround(x - code[best]))) best = i;
    return best;
  };
  for (const code of [NF4_CODE, FP4_CODE, DYNAMIC_MAP]) {
    const near = nearestIndex(code);
    const probes: number[] = [-1, 1, 0, -0];
    for (let i = 0; i + 1 < code.length; i++) {
      const mid = Math.fround((code[i] + code[i + 1]) / 2);
      probes.push(mid, Math.fround(mid * (1 + 1e-7)), Math.fround(mid * (1 - 1e-7)));
    }
    let seed = 12345;
    for (let i = 0; i < 5000; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      probes.push(Math.fround((seed / 2 ** 32) * 2 - 1));
    }
    for (const x of probes) assert.equal(near(x), argmin(code, x), `x = ${x}`);
  }
});
