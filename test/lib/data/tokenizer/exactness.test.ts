import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { AutoTokenizer } from '../../../../lib/data/tokenizer/auto';
import type { PreTrainedTokenizer } from '../../../../lib/data/tokenizer/tokenizer';
import type { CallOptions } from '../../../../lib/data/tokenizer/tokenizer';
import { loadInstruct, loadLlama3, refs, TRAINED_DIR } from './helpers';

const BATCH = ['Hello world', 'A much longer sentence, with several more tokens in it than the others.', 'Mid length text here.'];

/** Every corpus string: ids with and without special tokens, tokens and decoded text equal transformers'. */
function checkCorpus(tok: PreTrainedTokenizer, prefix: string) {
  const rows = refs[`${prefix}.encode`] as any[];
  assert.ok(rows.length > 70);
  for (const row of rows) {
    const label = `${prefix}: ${JSON.stringify(row.text).slice(0, 80)}`;
    assert.deepEqual(tok.encode(row.text), row.ids, label);
    const plain = tok.encode(row.text, { addSpecialTokens: false });
    assert.deepEqual(plain, row.ids_plain, label);
    // `tokenizers` alone (no transformers layer) gives the same ids.
    assert.deepEqual(tok.encode(row.text), row.raw_ids, label);
    assert.deepEqual(tok.convertIdsToTokens(plain), row.tokens, label);
    assert.deepEqual(tok.tokenize(row.text), row.tokenize, label);
    assert.equal(tok.decode(row.ids), row.decoded, label);
    assert.equal(tok.decode(row.ids, { skipSpecialTokens: true }), row.decoded_skip, label);
  }
}

function checkChat(tok: PreTrainedTokenizer, prefix: string) {
  const chat = refs[`${prefix}.chat`];
  const messages = [
    { role: 'system', content: 'You are a helpful assistant that summarizes dialogues.' },
    { role: 'user', content: '  Summarize: #Person1#: Hi, how are you?\n#Person2#: Fine, thanks!  ' },
    { role: 'assistant', content: 'Two people greet each other.' },
    { role: 'user', content: 'And in French? 🇫🇷' },
  ];
  for (const [key, addGenerationPrompt] of [['plain', false], ['generation_prompt', true]] as const) {
    assert.equal(tok.applyChatTemplate(messages, { addGenerationPrompt, tokenize: false }), chat[key].text, `${prefix} ${key}`);
    assert.deepEqual(tok.applyChatTemplate(messages, { addGenerationPrompt }), chat[key].ids, `${prefix} ${key}`);
    // transformers 5 returns a dict from apply_chat_template(tokenize=True).
    const dict = tok.applyChatTemplate(messages, { addGenerationPrompt, returnDict: true });
    assert.deepEqual({ input_ids: dict.inputIds, attention_mask: dict.attentionMask }, chat[key].tokenized, `${prefix} ${key}`);
  }
}

test('Llama 3: ids, tokens and decoding equal transformers on the tricky corpus', async () => {
  const tok = await loadLlama3();
  checkCorpus(tok, 'llama3');
});

test('Llama 3: code points across planes and every whitespace character split as Oniguruma does', async () => {
  const tok = await loadLlama3();
  const rows = refs['llama3.stress'] as any[];
  assert.ok(rows.length > 300);
  for (const row of rows) assert.deepEqual(tok.encode(row.text, { addSpecialTokens: false }), row.ids, JSON.stringify(row.text).slice(0, 60));
});

/** train.txt as make_refs.py read it: Python's text mode turns \r\n and \r into \n. */
async function trainText(): Promise<string> {
  return (await fs.readFile(`${TRAINED_DIR}/../train.txt`, 'utf8')).replace(/\r\n?/g, '\n');
}

test('Llama 3: 210 KB of dialogue text encodes to exactly transformers\' 61,551 ids', async () => {
  const tok = await loadLlama3();
  const text = await trainText();
  const ids = tok.encode(text, { addSpecialTokens: false });
  assert.equal(ids.length, refs['llama3.bulk'].ids.length);
  assert.deepEqual(ids, refs['llama3.bulk'].ids);
});

test('Llama 3: special token fields, sizes and partial-UTF-8 decoding match transformers', async () => {
  const tok = await loadLlama3();
  const d = refs['llama3.describe'];
  assert.equal(tok.bosToken, d.bos_token);
  assert.equal(tok.bosTokenId, d.bos_token_id);
  assert.equal(tok.eosToken, d.eos_token);
  assert.equal(tok.eosTokenId, d.eos_token_id);
  assert.equal(tok.padToken, d.pad_token);
  assert.equal(tok.vocabSize, d.vocab_size);
  assert.equal(tok.length, d.len);
  assert.equal(tok.modelMaxLength, 1e30);
  assert.equal(tok.paddingSide, d.padding_side);
  for (const { ids, decoded } of refs['llama3.decode_pieces']) assert.equal(tok.decode(ids), decoded);
  assert.deepEqual(tok.convertTokensToIds(['<|eot_id|>', 'Hello', 'ĠHello', 'not-a-token']), [128009, 9906, 22691, null]);
  assert.equal(tok.convertIdsToTokens(128006), '<|start_header_id|>');
});

test('Llama 3: chat template renders and tokenizes like transformers', async () => {
  checkChat(await loadLlama3(), 'llama3');
});

test('Llama 3 Instruct layout: the TemplateProcessing post-processor adds BOS; chat and eos as transformers', async () => {
  const tok = await loadInstruct();
  assert.equal(tok.eosTokenId, 128009);
  assert.deepEqual(tok.encode('Hello world'), [128000, 9906, 1917]);
  checkCorpus(tok, 'instruct');
  checkChat(tok, 'instruct');
});

test('trained tokenizer: transformers loads it and its ids, decoding and chat equal ours', async () => {
  const tok = await AutoTokenizer.fromPretrained(TRAINED_DIR);
  const d = refs['trained.describe'];
  assert.equal(tok.vocabSize, d.vocab_size);
  assert.equal(tok.length, d.len);
  assert.equal(tok.bosTokenId, d.bos_token_id);
  assert.equal(tok.eosTokenId, d.eos_token_id);
  assert.equal(tok.padToken, d.pad_token);
  assert.equal(tok.modelMaxLength, d.model_max_length);
  checkCorpus(tok, 'trained');
  checkChat(tok, 'trained');
  for (const row of refs['trained.stress']) assert.deepEqual(tok.encode(row.text, { addSpecialTokens: false }), row.ids);
  assert.deepEqual(tok.encode(await trainText(), { addSpecialTokens: false }), refs['trained.bulk'].ids);
});


/** make_refs.py's `batches()`: pad = eos, then each padding/truncation case through `tokenizer(...)`. */
function checkBatches(tok: PreTrainedTokenizer, prefix: string) {
  const ref = refs[`${prefix}.batch`];
  const padBefore = tok.padToken;
  tok.padToken = tok.eosToken;
  assert.equal(tok.padTokenId, ref.pad_token_id);
  for (const name of ['pad_left', 'pad_right', 'max_length_left', 'truncate_right', 'truncate_pad_right', 'no_special_pad_left', 'truncate_left']) {
    const c = ref[name];
    const kw = c.kwargs;
    const options: Omit<CallOptions, 'returnTensors'> = {
      padding: kw.padding, truncation: kw.truncation, maxLength: kw.max_length, addSpecialTokens: kw.add_special_tokens,
    };
    tok.paddingSide = c.padding_side ?? 'right';
    tok.truncationSide = c.truncation_side ?? 'right';
    const out = tok.call(BATCH, options);
    assert.deepEqual(out.inputIds, c.input_ids, `${prefix} ${name}`);
    assert.deepEqual(out.attentionMask, c.attention_mask, `${prefix} ${name}`);
  }
  tok.truncationSide = 'right';
  tok.paddingSide = 'right';
  tok.padToken = padBefore;
}

test('batches: left/right padding, max_length, truncation both sides and masks equal transformers (Llama 3)', async () => {
  checkBatches(await loadLlama3(), 'llama3');
});

test('batches: the same cases with a BOS-adding post-processor and with a trained vocab', async () => {
  checkBatches(await loadInstruct(), 'instruct');
  checkBatches(await AutoTokenizer.fromPretrained(TRAINED_DIR), 'trained');
});
