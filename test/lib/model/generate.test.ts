import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { ArgumentError } from '../../../lib/errors';
import { LlamaForCausalLM } from '../../../lib/model/llama';
import { sampleToken, seededRandom } from '../../../lib/model/generate';

const TINY = { vocabSize: 64, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 64, initializerRange: 0.3 };

test('greedy generation with the KV cache equals recomputing the whole sequence each step', async () => {
  await ensureBackend();
  const model = LlamaForCausalLM.fromConfig(TINY, { seed: 21 });
  const before = tf.memory().numTensors;
  const out = await model.generate({ inputIds: [[3, 9, 27]], maxNewTokens: 6, eosTokenId: [] });
  assert.equal(out[0].length, 9);
  const ids = [3, 9, 27];
  for (let i = 0; i < 6; i++) {
    const { logits } = model.forward({ inputIds: [ids] });
    const last = tf.tidy(() => tf.argMax(tf.squeeze(tf.slice(logits, [0, ids.length - 1, 0], [1, 1, 64]))));
    ids.push((await last.data())[0]);
    tf.dispose([logits, last]);
  }
  assert.deepEqual(out[0], ids);
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

test('a left-padded batch gives each row the tokens it gets alone; rows stop at any eos id and are padded', async () => {
  await ensureBackend();
  const model = LlamaForCausalLM.fromConfig(TINY, { seed: 22 });
  const alone = await model.generate({ inputIds: [[5, 6]], maxNewTokens: 5, eosTokenId: [] });
  const long = await model.generate({ inputIds: [[7, 8, 9, 10]], maxNewTokens: 5, eosTokenId: [] });
  const batch = await model.generate({ inputIds: [[0, 0, 5, 6], [7, 8, 9, 10]], attentionMask: [[0, 0, 1, 1], [1, 1, 1, 1]], maxNewTokens: 5, eosTokenId: [] });
  assert.deepEqual(batch[0].slice(2), alone[0]);
  assert.deepEqual(batch[1], long[0]);
  // stop row 0 at its 2nd new token (an eos id from a list), pad it afterwards with padTokenId
  const stopAt = alone[0][3];
  const stopped = await model.generate({ inputIds: [[0, 0, 5, 6], [7, 8, 9, 10]], attentionMask: [[0, 0, 1, 1], [1, 1, 1, 1]], maxNewTokens: 5, eosTokenId: [63, stopAt], padTokenId: 1 });
  const firstStop = alone[0].slice(2).indexOf(stopAt);
  assert.deepEqual(stopped[0].slice(4, 4 + firstStop + 1), alone[0].slice(2, 2 + firstStop + 1));
  assert.ok(stopped[0].slice(4 + firstStop + 1).every((t) => t === 1));
  model.dispose();
});

test('sampling is reproducible per seed, top_k 1 is greedy, and the streamer sees every step; abort stops early', async () => {
  await ensureBackend();
  const model = LlamaForCausalLM.fromConfig(TINY, { seed: 23 });
  const args = { inputIds: [[1, 2, 3], [4, 5, 6]], maxNewTokens: 8, doSample: true, temperature: 1.5, topP: 0.95, eosTokenId: [] as number[] };
  const a = await model.generate({ ...args, seed: 42 });
  const b = await model.generate({ ...args, seed: 42 });
  const c = await model.generate({ ...args, seed: 7 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const greedy = await model.generate({ ...args, doSample: false });
  assert.deepEqual(await model.generate({ ...args, topK: 1, seed: 3 }), greedy);
  const seen: number[][] = [];
  const streamed = await model.generate({ ...args, seed: 42, streamer: (tokens, step) => { assert.equal(step, seen.length); seen.push(tokens); } });
  assert.equal(seen.length, 8);
  assert.deepEqual(seen.map((t) => t[1]), streamed[1].slice(3));
  const ctl = new AbortController();
  const short = await model.generate({ ...args, seed: 42, streamer: (_t, step) => { if (step === 2) ctl.abort(); }, signal: ctl.signal });
  assert.equal(short[0].length, 3 + 3);
  await assert.rejects(model.generate({ ...args, temperature: 0 }), ArgumentError);
  await assert.rejects(model.generate({ ...args, topP: 1.5 }), /`top_p` must be in \(0, 1\]/);
  model.dispose();
});

test('sampleToken: temperature, top-k and top-p filter as transformers does', () => {
  const logits = new Float32Array([2, 1, 0, -1]); // probs ≈ 0.644, 0.237, 0.087, 0.032
  const count = (o: { temperature: number; topK: number; topP: number }) => {
    const rand = seededRandom(1);
    const n = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) n[sampleToken(logits, o, rand)]++;
    return n;
  };
  const all = count({ temperature: 1, topK: 0, topP: 1 });
  assert.ok(Math.abs(all[0] / 4000 - 0.644) < 0.03 && all[3] > 0);
  const k2 = count({ temperature: 1, topK: 2, topP: 1 });
  assert.deepEqual([k2[2], k2[3]], [0, 0]);
  const p = count({ temperature: 1, topK: 0, topP: 0.85 }); // 0.644 + 0.237 ≥ 0.85: two tokens
  assert.deepEqual([p[2], p[3]], [0, 0]);
  const cold = count({ temperature: 0.1, topK: 0, topP: 1 });
  assert.ok(cold[0] > 3990);
});
