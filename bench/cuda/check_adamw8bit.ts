/**
 * AdamW8bit's device form (the cuda backend's fused kernel, native/adamw8bit.cuh) against its host
 * form (the same class with `fused: false`), for bench/cuda/check.ts. Parameters: 1000 values (4
 * blocks of 256, the last partial), (96, 800) (300 blocks) whose 4th block always gets a zero gradient (absmax 0),
 * and 30 values under min8bitSize (fp32 moments, the fp32 fused AdamW kernel); weight decay on the
 * first two. Gradient scales change by 10× per step, so codes move across the dynamic map.
 *
 * Tolerances: the device form computes in double in the host form's order with every operation
 * rounded explicitly, so 8-bit codes, absmax and parameters must be identical (tolerance 0). The fp32
 * moments use the fp32 fused kernel (float32 arithmetic, m in lerp form) while the host form
 * computes in double: parameter and moments within 1e-6 (absolute; relative to the largest moment).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdamW8bit } from '../../lib/train/optim/adamw_8bit';
import type { OptimizerState } from '../../lib/train/optim/optimizer';
import { decodeRaw } from '../../lib/model/safetensors';
import { registerCudaBackend } from '../../lib/backend/cuda';

type Report = (name: string, err: number, tol: number) => void;

const SHAPES = [[1000], [96, 800], [30]];
const OPTIONS = { lr: 1e-3, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0.01, decay: [true, true, false], min8bitSize: 100 };

function gradients(step: number): tf.Tensor[] {
  return SHAPES.map((shape, i) => {
    const g = tf.randomNormal(shape, 0, 10 ** (1 - step), 'float32', 400 + 10 * step + i);
    const v = Float32Array.from(g.dataSync());
    g.dispose();
    if (i === 1) v.fill(0, 3 * 256, 4 * 256);
    return tf.tensor(v, shape);
  });
}

function stepAll(opts: AdamW8bit[], step: number): void {
  const gs = gradients(step);
  for (const o of opts) o.step(gs, OPTIONS.lr);
  tf.dispose(gs);
}

/** An optimizer over copies of `from` (variables of their own). */
function fresh(from: tf.Tensor[], fused: boolean): AdamW8bit {
  return new AdamW8bit(from.map((p) => tf.tidy(() => tf.variable(p.clone()))), { ...OPTIONS, fused });
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = a.length === b.length ? 0 : Infinity;
  for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
  return err;
}

/** Largest difference over the 8-bit parameters (quantized) or the fp32 one. */
function paramDiff(a: AdamW8bit, b: AdamW8bit, quantized: boolean): number {
  const which = quantized ? [0, 1] : [2];
  return Math.max(...which.map((i) => maxAbsDiff(a.params[i].dataSync(), b.params[i].dataSync())));
}

function stateValues(s: OptimizerState, key: string): ArrayLike<number> {
  return decodeRaw(s.tensors.get(key)!, key);
}

function dispose(opts: AdamW8bit[]): void {
  for (const o of opts) {
    o.dispose();
    tf.dispose(o.params);
  }
}

export async function checkAdamW8bit(report: Report): Promise<void> {
  const start = tf.memory().numTensors;
  const init = SHAPES.map((shape, i) => tf.randomNormal(shape, 0, 0.5, 'float32', 300 + i));
  const host = fresh(init, false);
  const dev = fresh(init, true);
  tf.dispose(init);
  stepAll([host, dev], 1);
  const afterFirst = tf.memory().numTensors;
  for (let step = 2; step <= 4; step++) stepAll([host, dev], step);
  const held = Math.abs(tf.memory().numTensors - afterFirst);

  report('AdamW8bit fused vs host: 8-bit params, 4 steps', paramDiff(dev, host, true), 0);
  report('AdamW8bit fused vs host: fp32-moment param (abs)', paramDiff(dev, host, false), 1e-6);
  const [hs, ds] = [await host.stateDict(), await dev.stateDict()];
  let codes = 0, absmax = 0, moments = 0;
  for (const [key, raw] of hs.tensors) {
    const [a, b] = [stateValues(ds, key), stateValues(hs, key)];
    if (raw.dtype === 'U8') for (let i = 0; i < a.length; i++) codes += a[i] === b[i] ? 0 : 1;
    else if (key.includes('absmax')) absmax = Math.max(absmax, maxAbsDiff(a, b));
    else moments = Math.max(moments, maxAbsDiff(a, b) / Math.max(1e-30, ...Array.from(b, Math.abs)));
  }
  report('AdamW8bit fused vs host: codes that differ', codes, 0);
  report('AdamW8bit fused vs host: absmax', absmax, 0);
  report('AdamW8bit fused vs host: fp32 moments (rel)', moments, 1e-6);
  report('AdamW8bit fused: state keys/shapes as host', JSON.stringify([...ds.tensors].map(([k, r]) => [k, r.dtype, r.shape])) === JSON.stringify([...hs.tensors].map(([k, r]) => [k, r.dtype, r.shape])) ? 0 : 1, 0);

  // Each form resumes from the other's checkpoint and keeps going like the form that wrote it.
  const devFromHost = fresh(host.params, true);
  devFromHost.loadStateDict(hs, 'host state');
  const hostFromDev = fresh(dev.params, false);
  hostFromDev.loadStateDict(ds, 'device state');
  stepAll([host, dev, devFromHost, hostFromDev], 5);
  report('AdamW8bit checkpoint host→fused, 1 step (8-bit)', paramDiff(devFromHost, host, true), 0);
  report('AdamW8bit checkpoint fused→host, 1 step (8-bit)', paramDiff(hostFromDev, dev, true), 0);
  report('AdamW8bit fused: stateBytes (int32 words)', Math.abs(dev.stateBytes() - (2 * 4 * 250 + 2 * 4 * 4 + 2 * 4 * 19200 + 2 * 4 * 300 + 2 * 4 * 30)), 0);

  dispose([host, dev, devFromHost, hostFromDev]);
  report('AdamW8bit fused: tensors leaked (steps 2–4, dispose)', held + Math.abs(tf.memory().numTensors - start), 0);
}

/** Run alone on a GPU machine: `node dist/bench/cuda/check_adamw8bit.js` (check.js runs it with everything else). */
async function main(): Promise<void> {
  const reg = registerCudaBackend();
  if (!reg.ok) throw new Error(`cuda backend unavailable: ${reg.reason}`);
  await tf.setBackend('cuda');
  let failed = 0;
  await checkAdamW8bit((name, err, tol) => {
    if (err > tol) failed++;
    console.log(name.padEnd(64), err.toExponential(2).padStart(10), err <= tol ? 'ok' : 'MISMATCH');
  });
  process.exit(failed ? 1 : 0);
}

if (require.main === module) void main();
