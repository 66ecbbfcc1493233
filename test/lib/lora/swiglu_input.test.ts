import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { ArgumentError } from '../../../lib/errors';
import { Linear } from '../../../lib/nn/linear';
import { swiglu } from '../../../lib/nn/swiglu';
import { LoraLinear } from '../../../lib/lora/layer';
import { recordTape } from '../../../lib/train/engine_tape';

test('LoraLinear.forwardSwiglu: the values and gradients of forward(swiglu(g, u)), keeping g and u but not their product', async () => {
  await ensureBackend();
  const [inF, outF] = [12, 5];
  const w = tf.randomNormal([outF, inF], 0, 0.3, 'float32', 1);
  const base = new Linear(inF, outF, { weight: w, trainable: false });
  w.dispose();
  const lora = new LoraLinear(base, { r: 3, loraAlpha: 6, loraDropout: 0, useRslora: false, initLoraWeights: true, seed: 4 });
  tf.tidy(() => lora.loraB.weight.assign(tf.randomNormal([outF, 3], 0, 0.2, 'float32', 2)));
  const g = tf.randomNormal([2, 3, inF], 0, 1, 'float32', 3);
  const u = tf.randomNormal([2, 3, inF], 0, 1, 'float32', 4);
  const dy = tf.randomNormal([2, 3, outF], 0, 1, 'float32', 5);
  const [A, B] = [lora.loraA.weight, lora.loraB.weight];
  const run = (fused: boolean) => tf.tidy(() => {
    const f = (gi: tf.Tensor, ui: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => {
      assert.equal(a, A);
      assert.equal(b, B);
      return fused ? lora.forwardSwiglu(gi, ui)! : lora.forward(swiglu(gi, ui));
    };
    return [f(g, u, A, B), ...tf.grads(f)([g, u, A, B], dy)].map((t) => Array.from(t.dataSync()));
  });
  assert.deepEqual(run(true), run(false));
  // With LoRA dropout: the same masks (drawn from the call count's seed) and numbers both ways.
  const wd = tf.randomNormal([outF, inF], 0, 0.3, 'float32', 1);
  const droppy = new LoraLinear(new Linear(inF, outF, { weight: wd, trainable: false }), { r: 3, loraAlpha: 6, loraDropout: 0.4, useRslora: false, initLoraWeights: true, seed: 4 });
  wd.dispose();
  tf.tidy(() => droppy.loraB.weight.assign(B));
  const withDropout = (fused: boolean) => tf.tidy(() => {
    droppy.setRngState(0);
    const f = (gi: tf.Tensor, ui: tf.Tensor) => (fused ? droppy.forwardSwiglu(gi, ui)! : droppy.forward(swiglu(gi, ui)));
    return [f(g, u), ...tf.grads(f)([g, u], dy)].map((t) => Array.from(t.dataSync()));
  });
  const dropped = withDropout(true);
  assert.deepEqual(dropped, withDropout(false));
  assert.notDeepEqual(dropped[0], run(true)[0], 'dropout changes the output');
  droppy.dispose();
  const before = tf.memory().numTensors;
  const { value, tape } = recordTape(() => lora.forwardSwiglu(g, u)!);
  assert.deepEqual(tape.flatMap((n) => n.saved ?? []).map((t) => t.shape), [[2, 3, inF], [2, 3, inF]], 'kept: g and u only');
  for (const node of tape) tf.dispose(node.saved ?? []);
  value.dispose();
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => lora.forwardSwiglu(g, tf.ones([2, 3, 4])), (e: Error) => e instanceof ArgumentError && /gate \[2, 3, 12\] and up \[2, 3, 4\]/.test(e.message));
  lora.disabled = true;
  assert.equal(lora.forwardSwiglu(g, u), undefined, 'a disabled adapter leaves it to forward(swiglu(g, u))');
  tf.dispose([g, u, dy]);
  lora.dispose();
});
