/**
 * Matmul4bit with compute dtype float16 (lib/backend/cuda/native/matmul4bit.cuh) against float64
 * references, for bench/cuda/check.ts; also runs alone: `node dist/bench/cuda/check_matmul4bit.js`.
 *
 * Each case multiplies x (N, k) by a 4-bit weight W (rows, cols) — NF4 or FP4 codes, plain or
 * double-quantized absmax — forward (x · Wᵀ) and input gradient (dy · W), and reports two relative
 * L2 errors of the (N, nOut) result:
 *  - `exact`: against float64 of the exact operands (W as the CPU Dequantize4bit kernel gives it).
 *    float16 keeps 11 significant bits, so rounding moves each operand by at most 2^-11 relative and
 *    each product by at most ≈ 2^-10: bound 2^-10 (random operands give ≈ 3e-4).
 *  - `fp16 operands`: against float64 of the operands rounded to float16 on the host
 *    (roundToFloat16). A product of two float16 values is exact in float32, so only the fp32
 *    accumulation is left: bound 2^-14, 8× under one float16 rounding, so an operand left unrounded
 *    (≈ 2e-4) or rounded to bfloat16 (≈ 2e-3) fails it.
 * Shapes: (104, 128) in one piece; the same in uneven slices of output columns
 * (QLORA_TS_CUDA_DEQUANT_CHUNK=2000: 7 slices forward, 6 for the gradient); an odd width (40, 100),
 * dequantized element by element; and (4360, 4096) = 17.9 M elements, over the default 2^24 chunk, so
 * two slices (2184 + 2176 rows forward, 2048 + 2048 columns for the gradient).
 *
 * Few rows (N ≤ 8, decoding) in both compute dtypes, forward: the GEMV path (kGemv4) at odd row
 * counts, widths that are multiples of 8 but not of 32, plain and double-quantized absmax, NF4 and
 * FP4, against float64 of the exact operands (2^-7 for bfloat16, 2^-10 for float16) and of the
 * operands rounded to the compute type (2^-14 for both: a product of two bfloat16 values is exact in
 * float32 too); a width of 100 and an x over 48 KiB take the GEMM path in the same list.
 *
 * Range: typical activations (normal, with outliers of ±3000 as Llama's massive activations) raise
 * no overflow flag and give finite outputs; an activation of 70000 (over float16's 65504) and an
 * absmax of 1e5 each raise their flag, make their outputs non-finite (bitsandbytes overflows too)
 * and make the backend warn (at N = 16, the GEMM path); at N = 1 (the GEMV path) the same flags and
 * outputs. Last, milliseconds per call of the bfloat16 and float16 forms at 8B shapes, and µs per
 * forward call with 1–8 rows, GEMV against dequantize + GEMM (QLORA_TS_CUDA_GEMV_ROWS=0).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { registerCudaBackend, type CudaBackend } from '../../lib/backend/cuda';
import { deviceRandom } from '../../lib/backend/cuda/random';
import { dequantize4bitOp, matmul4bitOp, type Dequantize4bitAttrs, type Dequantize4bitInputs, type Matmul4bitDtype } from '../../lib/quant/dequantize_op';
import { DYNAMIC_MAP, codeFor } from '../../lib/quant/codebooks';
import { roundToFloat16 } from '../../lib/quant/float16';
import type { QuantType } from '../../lib/quant/quant_state';

type Report = (name: string, err: number, tol: number) => void;

const EXACT_TOL = 2 ** -10;
const ROUNDED_TOL = 2 ** -14;

interface WeightCase { quantType: QuantType; nested: boolean; rows: number; cols: number; N: number; chunk?: string }

const CASES: WeightCase[] = [
  ...(['nf4', 'fp4'] as const).flatMap((quantType) => [false, true].map((nested) => ({ quantType, nested, rows: 104, cols: 128, N: 40 }))),
  { quantType: 'nf4', nested: false, rows: 104, cols: 128, N: 40, chunk: '2000' },
  { quantType: 'fp4', nested: true, rows: 40, cols: 100, N: 24 },
  { quantType: 'nf4', nested: true, rows: 4360, cols: 4096, N: 8 },
  { quantType: 'fp4', nested: false, rows: 4360, cols: 4096, N: 8 },
];

/** A weight's packed codes and scales as host arrays; `tensors()` makes them on the current backend. */
function makeWeight(c: WeightCase, absmaxOf = (b: number) => 0.02 + ((b * 37) % 100) / 1000) {
  const n = c.rows * c.cols, blocksize = 64, nBlocks = Math.ceil(n / blocksize), nestedBlocksize = 256;
  const words = Int32Array.from({ length: Math.ceil(n / 8) }, (_, i) => Math.imul(i + 5, 2654435761));
  const absmax = c.nested ? Int32Array.from({ length: Math.ceil(nBlocks / 4) }, (_, i) => Math.imul(i + 3, 40503)) : Float32Array.from({ length: nBlocks }, (_, b) => absmaxOf(b));
  const nestedAbsmax = Float32Array.from({ length: Math.ceil(nBlocks / nestedBlocksize) }, (_, i) => 0.04 + i / 1000);
  const attrs: Dequantize4bitAttrs = { shape: [c.rows, c.cols], blocksize, transpose: false, nested: c.nested, nestedBlocksize, offset: 0.08 };
  const tensors = (): Dequantize4bitInputs => ({
    packed: tf.tensor1d(words, 'int32'), code: tf.tensor1d(codeFor(c.quantType)),
    absmax: c.nested ? tf.tensor1d(absmax as Int32Array, 'int32') : tf.tensor1d(absmax as Float32Array),
    nestedAbsmax: c.nested ? tf.tensor1d(nestedAbsmax) : undefined, nestedCode: c.nested ? tf.tensor1d(DYNAMIC_MAP) : undefined,
  });
  return { attrs, tensors };
}

async function onBackend(name: string, f: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(name);
  const v = tf.tidy(f);
  const out = (await v.data()) as Float32Array;
  v.dispose();
  return out;
}

/** x (N, k) · Wᵀ (gradInput false, k = cols) or x (N, k) · W (true, k = rows) in float64; W (rows, cols) row-major. */
function reference(x: ArrayLike<number>, w: ArrayLike<number>, N: number, rows: number, cols: number, gradInput: boolean): Float64Array {
  const k = gradInput ? rows : cols, nOut = gradInput ? cols : rows;
  const y = new Float64Array(N * nOut);
  for (let i = 0; i < N; i++) {
    if (!gradInput) {
      for (let j = 0; j < nOut; j++) {
        let s = 0;
        for (let q = 0; q < k; q++) s += x[i * k + q] * w[j * cols + q];
        y[i * nOut + j] = s;
      }
    } else {
      for (let q = 0; q < k; q++) { // rows of W, read along: y[i, :] += x[i, q] · W[q, :]
        const xq = x[i * k + q];
        for (let j = 0; j < nOut; j++) y[i * nOut + j] += xq * w[q * cols + j];
      }
    }
  }
  return y;
}

function relL2(got: ArrayLike<number>, ref: Float64Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) { num += (got[i] - ref[i]) ** 2; den += ref[i] ** 2; }
  return Math.sqrt(num / den);
}

function nonFinite(v: ArrayLike<number>, from = 0, to = v.length): number {
  let bad = 0;
  for (let i = from; i < to; i++) if (!Number.isFinite(v[i])) bad++;
  return bad;
}

async function accuracy(report: Report): Promise<void> {
  for (const c of CASES) {
    const { attrs, tensors } = makeWeight(c);
    const w = await onBackend('cpu', () => dequantize4bitOp(tensors(), attrs)); // (rows, cols)
    const w16 = Float32Array.from(w, roundToFloat16); // float16 values are exact in float32
    for (const gradInput of [false, true]) {
      const k = gradInput ? c.rows : c.cols;
      const x = await onBackend('cpu', () => tf.randomNormal([c.N, k], 0, 1, 'float32', 130 + k));
      if (c.chunk) process.env.QLORA_TS_CUDA_DEQUANT_CHUNK = c.chunk;
      const got = await onBackend('cuda', () => matmul4bitOp(tf.tensor2d(x, [c.N, k]), tensors(), attrs, gradInput, 'float16'));
      delete process.env.QLORA_TS_CUDA_DEQUANT_CHUNK;
      const name = `Matmul4bit fp16 ${c.quantType} ${c.nested ? 'nested' : 'plain'} (${c.rows},${c.cols})${c.chunk ? ` chunk=${c.chunk}` : ''} ${gradInput ? 'dx' : 'fwd'}`;
      report(`${name} exact`, relL2(got, reference(x, w, c.N, c.rows, c.cols, gradInput)), EXACT_TOL);
      report(`${name} fp16 operands`, relL2(got, reference(Float32Array.from(x, roundToFloat16), w16, c.N, c.rows, c.cols, gradInput)), ROUNDED_TOL);
    }
  }
}

/** v rounded to the nearest bfloat16 (ties to even), as __float2bfloat16 does for finite values. */
function roundToBfloat16(v: number): number {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer);
  u[0] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) & 0xffff0000;
  return f[0];
}

const ROUND: Record<Matmul4bitDtype, (v: number) => number> = { bfloat16: roundToBfloat16, float16: roundToFloat16 };
/** Relative error bound against the exact operands: two roundings of 2^-9 (bfloat16) or 2^-12 (float16) each, summed. */
const EXACT_TOL_OF: Record<Matmul4bitDtype, number> = { bfloat16: 2 ** -7, float16: EXACT_TOL };

/**
 * Few rows (N ≤ 8: decoding) take the fused 4-bit GEMV (kGemv4) where cols is a multiple of 8 and
 * x fits its shared memory; the others here take the GEMM path (cols 100; N·cols·2 bytes over 48 KiB).
 * Same bounds as the GEMM path: the rounded-operand bound holds for bfloat16 too, since a product
 * of two bfloat16 values is exact in float32.
 */
const FEW_ROW_CASES: WeightCase[] = [
  { quantType: 'nf4', nested: false, rows: 37, cols: 104, N: 1 },
  { quantType: 'fp4', nested: true, rows: 37, cols: 104, N: 3 },
  { quantType: 'nf4', nested: true, rows: 301, cols: 1000, N: 8 },
  { quantType: 'fp4', nested: false, rows: 4360, cols: 4096, N: 1 },
  { quantType: 'nf4', nested: false, rows: 1024, cols: 14336, N: 1 },
  { quantType: 'nf4', nested: false, rows: 13, cols: 100, N: 2 },
  { quantType: 'nf4', nested: true, rows: 72, cols: 14336, N: 2 },
];

async function fewRows(report: Report): Promise<void> {
  for (const [i, c] of FEW_ROW_CASES.entries()) {
    const { attrs, tensors } = makeWeight(c);
    const w = await onBackend('cpu', () => dequantize4bitOp(tensors(), attrs)); // (rows, cols)
    const x = await onBackend('cpu', () => tf.randomNormal([c.N, c.cols], 0, 1, 'float32', 150 + i));
    for (const dtype of ['bfloat16', 'float16'] as Matmul4bitDtype[]) {
      const got = await onBackend('cuda', () => matmul4bitOp(tf.tensor2d(x, [c.N, c.cols]), tensors(), attrs, false, dtype));
      const path = c.cols % 8 === 0 && c.N * c.cols * 2 <= 48 * 1024 ? 'gemv' : 'gemm';
      const name = `Matmul4bit ${dtype === 'bfloat16' ? 'bf16' : 'fp16'} N=${c.N} ${c.quantType} ${c.nested ? 'nested' : 'plain'} (${c.rows},${c.cols}) ${path}`;
      const round = ROUND[dtype];
      report(`${name} exact`, relL2(got, reference(x, w, c.N, c.rows, c.cols, false)), EXACT_TOL_OF[dtype]);
      report(`${name} rounded operands`, relL2(got, reference(Float32Array.from(x, round), Float32Array.from(w, round), c.N, c.rows, c.cols, false)), ROUNDED_TOL);
    }
  }
}

/** Runs f with console.warn collected; returns the warnings. */
async function warnings(f: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => { seen.push(args.join(' ')); };
  try {
    await f();
  } finally {
    console.warn = warn;
  }
  return seen;
}

async function range(report: Report): Promise<void> {
  await tf.setBackend('cuda');
  const addon = (tf.backend() as CudaBackend).addon;
  const clear = () => { addon.sync(); addon.float16Overflow(1); };
  for (const N of [16, 1]) await rangeAt(report, addon, clear, N);
}

/**
 * The overflow cases with N rows of x: 16 takes the GEMM path, 1 the GEMV path. The backend warns
 * once per kind per process, so the warnings are counted at N = 16 only; the flags at both.
 */
async function rangeAt(report: Report, addon: CudaBackend['addon'], clear: () => void, N: number): Promise<void> {
  const c: WeightCase = { quantType: 'nf4', nested: false, rows: 64, cols: 256, N };
  const xs = await onBackend('cpu', () => tf.randomNormal([c.N, c.cols], 0, 1, 'float32', 140));
  const run = async (x: Float32Array, absmaxOf?: (b: number) => number) => {
    const { attrs, tensors } = makeWeight(c, absmaxOf);
    return onBackend('cuda', () => matmul4bitOp(tf.tensor2d(x, [c.N, c.cols]), tensors(), attrs, false, 'float16'));
  };
  clear();
  const typical = xs.slice();
  typical[3] = 3000; typical[c.cols + 7] = -2500; // the second only where N > 1
  let y: Float32Array = new Float32Array(0);
  const quiet = await warnings(async () => { y = await run(typical); }); // want none
  const at = N === 16 ? '' : ` N=${N}`;
  report(`Matmul4bit fp16${at} |x| ≤ 3000: overflow flags`, addon.float16Overflow(), 0);
  report(`Matmul4bit fp16${at} |x| ≤ 3000: non-finite outputs`, nonFinite(y) + quiet.length, 0);

  const huge = xs.slice();
  huge[5] = 70000; // row 0
  const told = await warnings(async () => { y = await run(huge); });
  report(`Matmul4bit fp16${at} x = 70000: activation flag missing`, addon.float16Overflow() & 1 ? 0 : 1, 0);
  report(`Matmul4bit fp16${at} x = 70000: finite outputs in its row`, c.rows - nonFinite(y, 0, c.rows), 0);
  report(`Matmul4bit fp16${at} x = 70000: non-finite outputs elsewhere`, nonFinite(y, c.rows), 0);
  if (N === 16) report(`Matmul4bit fp16${at} x = 70000: overflow warnings (want 1)`, Math.abs(told.filter((m) => /float16.*65504/.test(m)).length - 1), 0);
  clear();
  const big = await warnings(async () => { y = await run(xs, (b) => (b === 0 ? 1e5 : 0.05)); }); // block 0: row 0, columns 0–63
  report(`Matmul4bit fp16${at} absmax 1e5: weight flag missing`, addon.float16Overflow() & 2 ? 0 : 1, 0);
  if (N === 16) report(`Matmul4bit fp16${at} absmax 1e5: warnings (want 1)`, Math.abs(big.filter((m) => /weight values.*65504/.test(m)).length - 1), 0);
  clear();
}

/** ms per Matmul4bit call, bfloat16 and float16, at the 8B q_proj and MLP shapes (N tokens = 2048). */
async function timing(): Promise<void> {
  await tf.setBackend('cuda');
  const addon = (tf.backend() as CudaBackend).addon;
  console.log('\nMatmul4bit N=2048       dir   bf16 ms  fp16 ms');
  for (const [rows, cols] of [[4096, 4096], [14336, 4096]]) {
    const n = rows * cols;
    const inputs: Dequantize4bitInputs = { packed: deviceRandom([n / 8], 'bits', 1), code: tf.tensor1d(codeFor('nf4')), absmax: deviceRandom([n / 64], 'uniform', 2, 0.02, 0.1) };
    const attrs: Dequantize4bitAttrs = { shape: [rows, cols], blocksize: 64, transpose: false, nested: false, nestedBlocksize: 256, offset: 0 };
    for (const gradInput of [false, true]) {
      const x = deviceRandom([2048, gradInput ? rows : cols], 'normal', 3);
      const ms: number[] = [];
      for (const dtype of ['bfloat16', 'float16'] as Matmul4bitDtype[]) {
        for (let i = 0; i < 2; i++) matmul4bitOp(x, inputs, attrs, gradInput, dtype).dispose();
        addon.sync();
        const t0 = performance.now();
        for (let i = 0; i < 10; i++) matmul4bitOp(x, inputs, attrs, gradInput, dtype).dispose();
        addon.sync();
        ms.push((performance.now() - t0) / 10);
      }
      console.log(`(${rows}, ${cols})`.padEnd(24), (gradInput ? 'dx' : 'fwd').padEnd(5), ms[0].toFixed(3).padStart(7), ms[1].toFixed(3).padStart(8));
      x.dispose();
    }
    tf.dispose([inputs.packed, inputs.code, inputs.absmax]);
  }
}

/**
 * µs per forward call with few rows (decoding) at the 8B shapes: the GEMV path against dequantize +
 * GEMM (QLORA_TS_CUDA_GEMV_ROWS=0), bfloat16, and the weight bytes read per µs by the GEMV path.
 */
async function fewRowTiming(): Promise<void> {
  await tf.setBackend('cuda');
  const addon = (tf.backend() as CudaBackend).addon;
  console.log('\nMatmul4bit fwd bf16        N   gemv µs  gemm µs  gemv GB/s (4-bit weight)');
  for (const [rows, cols] of [[4096, 4096], [1024, 4096], [14336, 4096], [4096, 14336]]) {
    const n = rows * cols;
    const inputs: Dequantize4bitInputs = { packed: deviceRandom([n / 8], 'bits', 1), code: tf.tensor1d(codeFor('nf4')), absmax: deviceRandom([n / 64], 'uniform', 2, 0.02, 0.1) };
    const attrs: Dequantize4bitAttrs = { shape: [rows, cols], blocksize: 64, transpose: false, nested: false, nestedBlocksize: 256, offset: 0 };
    for (const N of [1, 2, 4, 8]) {
      const x = deviceRandom([N, cols], 'normal', 3);
      const us: number[] = [];
      for (const gemvRows of ['8', '0']) {
        process.env.QLORA_TS_CUDA_GEMV_ROWS = gemvRows;
        for (let i = 0; i < 3; i++) matmul4bitOp(x, inputs, attrs, false, 'bfloat16').dispose();
        addon.sync();
        const t0 = performance.now();
        for (let i = 0; i < 50; i++) matmul4bitOp(x, inputs, attrs, false, 'bfloat16').dispose();
        addon.sync();
        us.push(((performance.now() - t0) / 50) * 1000);
      }
      delete process.env.QLORA_TS_CUDA_GEMV_ROWS;
      console.log(`(${rows}, ${cols})`.padEnd(24), String(N).padStart(3), us[0].toFixed(1).padStart(9), us[1].toFixed(1).padStart(8), ((n / 2 + n / 16) / us[0] / 1000).toFixed(0).padStart(10));
      x.dispose();
    }
    tf.dispose([inputs.packed, inputs.code, inputs.absmax]);
  }
}

export async function checkMatmul4bitFloat16(report: Report): Promise<void> {
  const start = tf.memory().numTensors;
  await accuracy(report);
  await fewRows(report);
  await range(report);
  await timing();
  await fewRowTiming();
  await tf.setBackend('cuda');
  report('Matmul4bit fp16: tensors leaked', Math.abs(tf.memory().numTensors - start), 0);
}

/** Run alone on a GPU machine (check.js runs it with everything else). */
async function main(): Promise<void> {
  const reg = registerCudaBackend();
  if (!reg.ok) throw new Error(`cuda backend unavailable: ${reg.reason}`);
  tf.enableProdMode();
  let failed = 0;
  await checkMatmul4bitFloat16((name, err, tol) => {
    if (!(err <= tol)) failed++;
    console.log(name.padEnd(64), err.toExponential(2).padStart(10), err <= tol ? 'ok' : 'MISMATCH');
  });
  process.exit(failed ? 1 : 0);
}

if (require.main === module) void main();
