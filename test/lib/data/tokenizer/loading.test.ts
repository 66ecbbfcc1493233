import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { AutoTokenizer } from '../../../../lib/data/tokenizer/auto';
import { onigToJs } from '../../../../lib/data/tokenizer/regex';
import { ConfigError } from '../../../../lib/errors';
import { tempDir, TRAINED_DIR } from './helpers';

async function withTokenizerJson(edit: (json: any) => void): Promise<string> {
  const dir = tempDir('bad');
  const json = JSON.parse(await fs.readFile(path.join(TRAINED_DIR, 'tokenizer.json'), 'utf8'));
  edit(json);
  await fs.writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
  return dir;
}

test('a missing folder or tokenizer.json names the file; a missing tokenizer_config.json is allowed', async () => {
  const empty = tempDir('empty');
  await assert.rejects(AutoTokenizer.fromPretrained(empty), (e: Error) => e instanceof ConfigError && e.message.includes(path.join(empty, 'tokenizer.json')) && /file not found/.test(e.message));
  const dir = await withTokenizerJson(() => {});
  const tok = await AutoTokenizer.fromPretrained(dir);
  assert.equal(tok.bosToken, null);
  assert.equal(tok.paddingSide, 'right');
  await fs.writeFile(path.join(dir, 'tokenizer_config.json'), '{ not json');
  await assert.rejects(AutoTokenizer.fromPretrained(dir), /tokenizer_config.json: not valid JSON/);
});

test('unknown components are errors naming the folder, file, field and value', async () => {
  const cases: [(json: any) => void, RegExp][] = [
    [(j) => { j.model.type = 'WordPiece'; }, /tokenizer\.json: `model\.type` is "WordPiece"/],
    [(j) => { j.pre_tokenizer.pretokenizers[0].type = 'Metaspace'; }, /`pre_tokenizer\.pretokenizers\[0\]\.type` is "Metaspace"/],
    [(j) => { j.pre_tokenizer.pretokenizers[0].behavior = 'Sideways'; }, /`pre_tokenizer\.pretokenizers\[0\]\.behavior` is "Sideways"/],
    [(j) => { j.decoder = { type: 'WordPiece' }; }, /`decoder\.type` is "WordPiece"/],
    [(j) => { j.normalizer = { type: 'BertNormalizer' }; }, /`normalizer\.type` is "BertNormalizer"/],
    [(j) => { j.post_processor.processors[1].type = 'RobertaProcessing'; }, /`post_processor\.processors\[1\]\.type` is "RobertaProcessing"/],
    [(j) => { j.model.merges[3] = 'Ġ zzz-not-in-vocab'; }, /`model\.merges\[3\]`/],
    [(j) => { delete j.model.vocab; }, /`model\.vocab` is missing/],
  ];
  for (const [edit, pattern] of cases) {
    const dir = await withTokenizerJson(edit);
    await assert.rejects(AutoTokenizer.fromPretrained(dir), (e: Error) => {
      assert.ok(e instanceof ConfigError, e.message);
      assert.match(e.message, pattern);
      assert.ok(e.message.startsWith(`${dir}/tokenizer.json`), e.message);
      return true;
    });
  }
});

test('Oniguruma → JS regex: \\s is Unicode White_Space (NEL in, BOM out), (?i:) folds ſ and K', () => {
  const ws = new RegExp(`^${onigToJs('\\s+')}$`, 'u');
  assert.ok(ws.test(' \t\n\r\u0085\u00a0\u2028\u3000'));
  assert.ok(!ws.test('\ufeff'));
  assert.ok(!ws.test('\u200b'));
  const contraction = new RegExp(`^${onigToJs("(?i:'s|'k)")}$`, 'u');
  for (const s of ["'s", "'S", "'ſ", "'k", "'K", "'\u212a"]) assert.ok(contraction.test(s), s);
  assert.ok(!contraction.test("'t"));
  const notSpace = new RegExp(`^${onigToJs('[^\\s\\p{L}]+')}$`, 'u');
  assert.ok(notSpace.test('\ufeff!1'));
  assert.ok(!notSpace.test('\u0085'));
});

test('a tokenizer shows transformers-style repr in console.log and in a notebook', async () => {
  const tok = await AutoTokenizer.fromPretrained(TRAINED_DIR, { paddingSide: 'left' });
  const repr = `PreTrainedTokenizerFast(name_or_path=${JSON.stringify(TRAINED_DIR)}, vocab_size=807, model_max_length=1024, ` +
    'padding_side="left", truncation_side="right", special_tokens={"bos_token": "<|begin_of_text|>", ' +
    '"eos_token": "<|end_of_text|>", "pad_token": "<|end_of_text|>"}, added_tokens=5)';
  assert.equal(String(tok), repr);
  assert.equal(inspect(tok), repr);
  assert.deepEqual((tok as any)[Symbol.for('Jupyter.display')](), { 'text/plain': repr });
});

test('Split behaviours: text between matches is a piece of its own (Isolated), or dropped (Removed)', async () => {
  const split = (behavior: string) => withTokenizerJson((j) => {
    j.pre_tokenizer.pretokenizers[0] = { type: 'Split', pattern: { Regex: '\\p{L}+' }, behavior, invert: false };
  });
  const isolated = await AutoTokenizer.fromPretrained(await split('Isolated'));
  const plain = (t: string) => isolated.encode(t, { addSpecialTokens: false });
  assert.deepEqual(plain('abc 123, def!'), [...plain('abc'), ...plain(' 123, '), ...plain('def'), ...plain('!')]);
  assert.deepEqual(plain('  12'), plain('  12'));
  const removed = await AutoTokenizer.fromPretrained(await split('Removed'));
  assert.equal(removed.decode(removed.encode('abc 123, def!', { addSpecialTokens: false })), ' 123, !');
  // A pre-tokenizer that never splits encodes its input as one word.
  const whole = await AutoTokenizer.fromPretrained(await withTokenizerJson((j) => {
    j.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false };
  }));
  const word = (t: string) => whole.encode(t, { addSpecialTokens: false });
  const previous = await AutoTokenizer.fromPretrained(await split('MergedWithPrevious'));
  assert.deepEqual(previous.encode('abc 123 def', { addSpecialTokens: false }), [...word('abc'), ...word(' 123 def')]);
  const next = await AutoTokenizer.fromPretrained(await split('MergedWithNext'));
  assert.deepEqual(next.encode('abc 123 def', { addSpecialTokens: false }), [...word('abc 123 '), ...word('def')]);
});
