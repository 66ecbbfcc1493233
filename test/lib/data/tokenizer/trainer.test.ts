import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { AutoTokenizer } from '../../../../lib/data/tokenizer/auto';
import { LLAMA3_SPECIAL_TOKENS, trainByteLevelBpe } from '../../../../lib/data/tokenizer/trainer';
import { ArgumentError } from '../../../../lib/errors';
import { trainFixture } from '../../../../scripts/golden/tokenizer/train_fixture';
import { FIXTURES, tempDir, TRAINED_DIR } from './helpers';

const corpus: string[] = JSON.parse(readFileSync(path.join(FIXTURES, 'corpus.json'), 'utf8'));

test('training is deterministic: the fixture vocab (loaded by transformers in make_refs.py) is reproduced byte for byte', async () => {
  const tok = trainFixture();
  const dir = tempDir('trained');
  await tok.savePretrained(dir);
  for (const name of ['tokenizer.json', 'tokenizer_config.json']) {
    assert.equal(await fs.readFile(path.join(dir, name), 'utf8'), await fs.readFile(path.join(TRAINED_DIR, name), 'utf8'), name);
  }
});

test('a trained tokenizer round-trips every corpus string, keeps Llama 3 specials after the BPE ids and merges frequent words', async () => {
  const text = readFileSync(path.join(FIXTURES, 'train.txt'), 'utf8');
  const tok = trainByteLevelBpe(text.split('\n\n'), { vocabSize: 600, minFrequency: 2 });
  assert.equal(tok.length, 600);
  assert.equal(tok.vocabSize, 600 - LLAMA3_SPECIAL_TOKENS.length);
  assert.deepEqual(LLAMA3_SPECIAL_TOKENS.map((t) => tok.convertTokensToIds(t)), [595, 596, 597, 598, 599]);
  assert.equal(tok.bosToken, '<|begin_of_text|>');
  assert.equal(tok.eosToken, '<|end_of_text|>');
  assert.equal(tok.convertTokensToIds('!'), 0); // byte symbols first, in code-point order as Llama 3
  for (const s of corpus) {
    const ids = tok.encode(s);
    assert.equal(ids[0], 595, 'BOS first');
    assert.equal(tok.decode(ids, { skipSpecialTokens: true }), s.replace(/<\|(begin_of_text|end_of_text|start_header_id|end_header_id|eot_id)\|>/g, ''));
    assert.equal(tok.decode(ids), `<|begin_of_text|>${s}`);
  }
  // Frequent dialogue words became single tokens; the speaker tag is a few tokens.
  assert.equal(tok.tokenize(' dollars').length, 1);
  assert.ok(tok.tokenize('#Person1#:').length <= 4);
  const dialogue = text.slice(0, 20_000);
  assert.ok(tok.encode(dialogue).length < dialogue.length / 2.5, 'compresses the training text');
});

test('savePretrained writes loadable files atomically; settings changed after loading survive', async () => {
  const tok = await AutoTokenizer.fromPretrained(TRAINED_DIR);
  tok.paddingSide = 'left';
  tok.padToken = '<|eot_id|>';
  const dir = tempDir('save');
  const files = await tok.savePretrained(dir);
  assert.deepEqual(files.map((f) => path.basename(f)), ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']);
  assert.deepEqual((await fs.readdir(dir)).sort(), ['special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
  const again = await AutoTokenizer.fromPretrained(dir);
  assert.equal(again.paddingSide, 'left');
  assert.equal(again.padToken, '<|eot_id|>');
  assert.equal(again.chatTemplate, tok.chatTemplate);
  for (const s of corpus) assert.deepEqual(again.encode(s), tok.encode(s));
  const map = JSON.parse(await fs.readFile(path.join(dir, 'special_tokens_map.json'), 'utf8'));
  assert.deepEqual(map, { bos_token: '<|begin_of_text|>', eos_token: '<|end_of_text|>', pad_token: '<|eot_id|>' });
});

test('trainer options: custom specials, no BOS, minFrequency stops early, bad arguments are named', () => {
  const texts = ['aaa bbb aaa bbb aaa ccc', 'aaa bbb'];
  const tok = trainByteLevelBpe(texts, { vocabSize: 300, specialTokens: ['<s>', '</s>'], bosToken: '<s>', eosToken: '</s>', addBosToken: false, minFrequency: 3 });
  assert.deepEqual(tok.encode('aaa'), tok.encode('aaa', { addSpecialTokens: false }));
  assert.equal(tok.convertTokensToIds('<s>'), tok.vocabSize);
  assert.ok(tok.vocabSize < 298, 'only pairs seen 3+ times merged');
  assert.deepEqual(tok.tokenize(' bbb'), ['Ġbbb']);
  const bare = trainByteLevelBpe(texts, { vocabSize: 260, specialTokens: [] });
  assert.equal(bare.length, 260);
  assert.equal(bare.bosToken, null);
  assert.deepEqual(bare.tokenize('aaa'), ['aaa']); // the most frequent word merged first
  assert.equal(bare.decode(bare.encode('aaa bbb ccc')), 'aaa bbb ccc');
  assert.throws(() => trainByteLevelBpe(texts, { vocabSize: 100 }), (e: Error) => e instanceof ArgumentError && /`vocabSize`/.test(e.message) && /100/.test(e.message));
  assert.throws(() => trainByteLevelBpe(texts, { vocabSize: 400, specialTokens: ['<s>', '<s>'] }), /`specialTokens`/);
  assert.throws(() => trainByteLevelBpe(texts, { vocabSize: 400, minFrequency: 0 }), /`minFrequency`/);
  assert.throws(() => trainByteLevelBpe(texts, { vocabSize: 400, bosToken: '<s>' }), /`bosToken` "<s>" is not one of `specialTokens`/);
  assert.throws(() => trainByteLevelBpe([42 as never], { vocabSize: 400 }), /`texts` must yield strings/);
});
