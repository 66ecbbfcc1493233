import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { LlamaForCausalLM } from '../../../lib/model/llama';
import { ropeCosSin, ropeInvFreq } from '../../../lib/nn/rope';
import { buildAttentionMask } from '../../../lib/nn/attention';
import { LoraConfig } from '../../../lib/lora/config';
import { getPeftModel } from '../../../lib/lora/peft_model';
import { recordTape } from '../../../lib/train/engine_tape';

test('a decoder layer during training: only its output and the copies its backward nodes kept outlive it', async () => {
  await ensureBackend();
  const config = { vocabSize: 64, hiddenSize: 32, intermediateSize: 80, numHiddenLayers: 1, numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 16 };
  for (const targets of [['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], ['q_proj', 'v_proj']]) {
    const base = LlamaForCausalLM.fromConfig(config, { seed: 2 });
    const peft = getPeftModel(base, new LoraConfig({ r: 4, loraAlpha: 8, targetModules: targets, taskType: 'CAUSAL_LM' }), { seed: 1, warn: false });
    peft.train();
    const layer = base.model.layers[0];
    const T = 6;
    const h = tf.randomNormal([2, T, 32], 0, 1, 'float32', 5) as tf.Tensor3D;
    const [cos, sin] = ropeCosSin(ropeInvFreq({ headDim: base.config.headDim, theta: base.config.ropeTheta }), [[0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5]]);
    const mask = buildAttentionMask([[1, 1, 1, 1, 1, 1], [0, 1, 1, 1, 1, 1]], T);
    let made = 0;
    const { value, tape } = recordTape(() => {
      const before = tf.memory().numTensors;
      const out = layer.forward(h, cos, sin, mask, undefined, false).out;
      made = tf.memory().numTensors - before;
      return out;
    });
    const kept = tape.reduce((n, node) => n + (node.saved ?? []).length, 0);
    assert.equal(made, 1 + kept, `${targets.length} LoRA targets: tensors alive after the layer vs its output + ${kept} kept copies`);
    for (const node of tape) tf.dispose(node.saved ?? []);
    tf.dispose([value, h, cos, sin, mask]);
    peft.dispose();
  }
});
