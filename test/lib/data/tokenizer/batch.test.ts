import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../../lib/backend';
import { AutoTokenizer } from '../../../../lib/data/tokenizer/auto';
import { ArgumentError } from '../../../../lib/errors';
import { refs, TRAINED_DIR } from './helpers';

const BATCH = ['Hello world', 'A much longer sentence, with several more tokens in it than the others.', 'Mid length text here.'];

test('padding side comes from fromPretrained options and can be overridden per call', async () => {
  const tok = await AutoTokenizer.fromPretrained(TRAINED_DIR, { paddingSide: 'left' });
  assert.equal(tok.paddingSide, 'left');
  const bos = tok.bosTokenId!;
  const pad = tok.padTokenId!;
  const left = tok.call(['a', 'a b c'], { padding: true });
  assert.equal(left.inputIds[0][0], pad);
  assert.equal(left.inputIds[0].at(-1), tok.encode('a', { addSpecialTokens: false })[0]);
  const right = tok.call(['a', 'a b c'], { padding: 'longest', paddingSide: 'right' });
  assert.deepEqual(right.inputIds[0].slice(0, 2), [bos, tok.encode('a', { addSpecialTokens: false })[0]]);
  assert.equal(right.inputIds[0].at(-1), pad);
  assert.deepEqual(right.attentionMask.map((m) => m.reduce((s, v) => s + v, 0)), right.inputIds.map((_, i) => tok.encode(['a', 'a b c'][i]).length));
  // One text gives flat lists, like transformers.
  const single = tok.call('a b c');
  assert.deepEqual(single.inputIds, tok.encode('a b c'));
  assert.deepEqual(single.attentionMask, single.inputIds.map(() => 1));
});

test("returnTensors: 'tf' gives int32 (B, T) tensors and leaks nothing", async () => {
  await ensureBackend();
  const tok = await AutoTokenizer.fromPretrained(TRAINED_DIR);
  const before = tf.memory().numTensors;
  const out = tok.call(BATCH, { padding: true, returnTensors: 'tf', paddingSide: 'left' });
  const ref = refs['trained.batch'].pad_left;
  const width = ref.input_ids[0].length;
  assert.deepEqual(out.inputIds.shape, [3, width]);
  assert.equal(out.inputIds.dtype, 'int32');
  assert.deepEqual(out.inputIds.arraySync(), ref.input_ids);
  assert.deepEqual(out.attentionMask.arraySync(), ref.attention_mask);
  assert.deepEqual(tok.batchDecode(out.inputIds, { skipSpecialTokens: true }), BATCH);
  assert.equal(tf.tidy(() => tok.decode(out.inputIds.slice([0, 0], [1, width]).squeeze(), { skipSpecialTokens: true })), BATCH[0]);
  tf.dispose([out.inputIds, out.attentionMask]);
  assert.equal(tf.memory().numTensors, before);
});

test('padding without a pad token, ragged tensors and bad sides are clear errors', async () => {
  const tok = await AutoTokenizer.fromPretrained(TRAINED_DIR, { padToken: null });
  assert.equal(tok.padToken, null);
  assert.throws(() => tok.call(['a', 'a b'], { padding: true }), (e: Error) => e instanceof ArgumentError && /padToken/.test(e.message) && /eosToken/.test(e.message));
  assert.throws(() => tok.call(['a', 'a b'], { returnTensors: 'tf' }), /padding: true/);
  assert.throws(() => tok.call(['a'], { paddingSide: 'middle' as never }), /`paddingSide` must be 'left' or 'right', got "middle"/);
  assert.throws(() => { tok.padToken = '<|not_a_token|>'; }, /`padToken` "<\|not_a_token\|>" is not in the vocabulary/);
  assert.throws(() => tok.call(['abc'], { truncation: true, maxLength: 0 }), /maxLength/);
  tok.padTokenId = tok.eosTokenId;
  assert.equal(tok.padToken, '<|end_of_text|>');
});
