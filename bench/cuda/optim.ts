/**
 * Optimizer step time on the cuda backend at the walkthrough's parameter set: Llama-3-8B shape,
 * LoRA r32 on q/k/v of 32 layers (lora_A (32, 4096) and lora_B (4096 or 1024, 32) each: 192 tensors,
 * 18.9 M values). In one process: AdamW8bit's host form (`fused: false`: every gradient downloaded,
 * every parameter uploaded), its device form (one kernel per parameter, moments on the device), and
 * the fp32 fused AdamW for reference. Each step gets new random gradients made on the device
 * before the clock starts (as a backward pass leaves them: no host copy yet); each form takes two
 * warm-up steps, then the timed steps end with one sync.
 *
 *   node dist/bench/cuda/optim.js [--steps 20] [--host-steps 3] [--json FILE]
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { flag, numberFlag } from '../common/args';
import { useCudaBackend } from './setup';
import { deviceRandom } from '../../lib/backend/cuda/random';
import { AdamW } from '../../lib/train/optim/adamw';
import { AdamW8bit } from '../../lib/train/optim/adamw_8bit';
import type { Optimizer } from '../../lib/train/optim/optimizer';

const R = 32;
const HIDDEN = 4096;
const LAYERS = 32;
const OUTS = [4096, 1024, 1024]; // q, k, v
const OPTIONS = { lr: 1e-4, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0 };

async function main(): Promise<void> {
  const backend = await useCudaBackend();
  const shapes: number[][] = [];
  for (let l = 0; l < LAYERS; l++) for (const out of OUTS) shapes.push([R, HIDDEN], [out, R]);
  const values = shapes.reduce((n, s) => n + s[0] * s[1], 0);

  const time = (form: string, make: (params: tf.Variable[]) => Optimizer, steps: number) => {
    const params = shapes.map((s, i) => tf.tidy(() => tf.variable(deviceRandom(s, 'normal', 1 + i, 0, 0.02))));
    const opt = make(params);
    const grads = Array.from({ length: 2 + steps }, (_, k) => shapes.map((s, i) => deviceRandom(s, 'normal', 1000 * (k + 1) + i, 0, 1e-3)));
    const step = (k: number) => {
      opt.step(grads[k], OPTIONS.lr);
      tf.dispose(grads[k]);
    };
    for (let k = 0; k < 2; k++) step(k);
    backend.addon.sync();
    const waits0 = backend.addon.memoryStats().waits;
    const t0 = performance.now();
    for (let k = 2; k < 2 + steps; k++) step(k);
    backend.addon.sync();
    const ms = (performance.now() - t0) / steps;
    const waits = (backend.addon.memoryStats().waits - waits0 - 1) / steps;
    const stateMiB = opt.stateBytes() / 2 ** 20;
    opt.dispose();
    tf.dispose(params);
    return { form, steps, ms, waits, stateMiB };
  };

  const steps = numberFlag('steps', 20);
  const rows = [
    time('AdamW8bit host form', (p) => new AdamW8bit(p, { ...OPTIONS, fused: false }), numberFlag('host-steps', 3)),
    time('AdamW8bit device form', (p) => new AdamW8bit(p, OPTIONS), steps),
    time('AdamW fp32 fused', (p) => new AdamW(p, OPTIONS), steps),
  ];
  console.log(`${shapes.length} parameters, ${values} values (8B q/k/v LoRA r${R})`);
  console.log('form'.padEnd(24), 'ms/step'.padStart(9), 'waits/step'.padStart(11), 'state MiB'.padStart(10), 'vs host'.padStart(8));
  for (const r of rows) {
    console.log(r.form.padEnd(24), r.ms.toFixed(2).padStart(9), r.waits.toFixed(0).padStart(11), r.stateMiB.toFixed(1).padStart(10), `${(rows[0].ms / r.ms).toFixed(1)}×`.padStart(8));
  }
  const json = (flag('json') ?? '');
  if (json) fs.writeFileSync(json, JSON.stringify({ parameters: shapes.length, values, rows }, null, 1));
}

void main();
