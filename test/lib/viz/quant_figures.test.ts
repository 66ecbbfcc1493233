import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../../../lib/random';
import { quantize4bit, dequantize4bitValues, type Quantized4bit } from '../../../lib/quant/quant_state';
import { memoryFootprintBars, quantErrorHistogram } from '../../../lib/viz/charts';

function randn(n: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return out;
}

function errors(w: Float32Array, q: Quantized4bit): Float32Array {
  const back = dequantize4bitValues(q.packed, q.state);
  return back.map((v, i) => v - w[i]);
}

/** Bytes of a quantized weight: packed codes + fp32 absmax, or + 8-bit absmax and its fp32 per-256 scales. */
function bytes(q: Quantized4bit): number {
  const nested = q.state.nested;
  return q.packed.byteLength + (nested ? nested.qabsmax.byteLength + nested.absmax.byteLength + 4 : q.state.absmax!.byteLength);
}

test('figures from real NF4/FP4 quantization of randn(256, 256): error histogram and memory bars', () => {
  const w = randn(256 * 256, 11);
  const nf4 = quantize4bit(w, { quantType: 'nf4' });
  const fp4 = quantize4bit(w, { quantType: 'fp4' });
  const nf4dq = quantize4bit(w, { quantType: 'nf4', compressStatistics: true });
  const fig = quantErrorHistogram({ NF4: errors(w, nf4), FP4: errors(w, fp4) }).toJSON();
  const meanAbs = fig.data.map((t) => Number(/mean \|err\| ([0-9.]+)/.exec(String(t.name))![1]));
  // bitsandbytes' own test (randn 1024²): NF4 ≈ 0.0728, FP4 ≈ 0.0965 mean absolute error.
  assert.ok(Math.abs(meanAbs[0] - 0.0728) < 0.003, `NF4 mean |err| ${meanAbs[0]}`);
  assert.ok(Math.abs(meanAbs[1] - 0.0965) < 0.004, `FP4 mean |err| ${meanAbs[1]}`);
  for (const t of fig.data) assert.equal((t.y as number[]).reduce((a, b) => a + b, 0), w.length, 'every weight in one bin');
  const mem = memoryFootprintBars({ fp32: w.length * 4, bf16: w.length * 2, nf4: bytes(nf4), nf4dq: bytes(nf4dq) }).toJSON().data[0];
  assert.deepEqual(mem.x, ['fp32', 'bf16', 'NF4', 'NF4 + double quant']);
  // 4 bits + 32/64 bits of absmax = 4.5 bits per weight; double quant: 4 + 8/64 + 32/(64·256) ≈ 4.127.
  const bits = (mem.y as number[]).map((mib) => (mib * 2 ** 20 * 8) / w.length);
  assert.ok(Math.abs(bits[2] - 4.5) < 1e-4 && Math.abs(bits[3] - 4.127) < 0.01, `bits per weight ${bits}`);
  assert.match((mem.text as string[])[2], /^36\.0 KiB \(14\.1%\)$/);
});
