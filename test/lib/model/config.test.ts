import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../../../lib/errors';
import { AutoConfig, LlamaConfig } from '../../../lib/model/config';
import { tempDir } from '../../tmp';

const tmp = tempDir('config');

// The fields of Meta-Llama-3-8B-Instruct's config.json (transformers 4.x layout).
const LLAMA3_8B = {
  architectures: ['LlamaForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 128000, eos_token_id: 128009,
  hidden_act: 'silu', hidden_size: 4096, initializer_range: 0.02, intermediate_size: 14336, max_position_embeddings: 8192,
  model_type: 'llama', num_attention_heads: 32, num_hidden_layers: 32, num_key_value_heads: 8, pretraining_tp: 1,
  rms_norm_eps: 1e-5, rope_scaling: null, rope_theta: 500000.0, tie_word_embeddings: false, torch_dtype: 'bfloat16',
  transformers_version: '4.40.0.dev0', use_cache: true, vocab_size: 128256,
};

function write(name: string, json: unknown): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(json));
  return dir;
}

test('AutoConfig reads a Llama 3 config.json into camelCase fields and writes the same file back', async () => {
  const c = await AutoConfig.fromPretrained(write('l3', LLAMA3_8B));
  assert.equal(c.hiddenSize, 4096);
  assert.equal(c.numKeyValueHeads, 8);
  assert.equal(c.headDim, 128);
  assert.equal(c.ropeTheta, 500000);
  assert.equal(c.ropeScaling, null);
  assert.equal(c.vocabSize, 128256);
  assert.equal(c.tieWordEmbeddings, false);
  assert.equal(c.torchDtype, 'bfloat16');
  assert.deepEqual(c.eosTokenIds(), [128009]);
  assert.equal(c.getMaxLength(), 8192);
  assert.equal(c.raw.pretraining_tp, 1);
  await c.savePretrained(path.join(tmp, 'l3-out'));
  const back = JSON.parse(fs.readFileSync(path.join(tmp, 'l3-out', 'config.json'), 'utf8'));
  for (const [k, v] of Object.entries(LLAMA3_8B)) assert.deepEqual(back[k], v, k);
  assert.equal(back.head_dim, 128);
});

test('llama3 rope_scaling, eos lists, get_max_length order, and the transformers 5 layout (rope_parameters, dtype)', async () => {
  const c = LlamaConfig.fromJSON({ ...LLAMA3_8B, eos_token_id: [128001, 128009], n_positions: 2048,
    rope_scaling: { rope_type: 'llama3', factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192 } });
  assert.deepEqual(c.ropeScaling, { ropeType: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
  assert.deepEqual(c.eosTokenIds(), [128001, 128009]);
  assert.equal(c.getMaxLength(), 2048); // n_positions first, as the walkthrough's get_max_length
  assert.equal(new LlamaConfig({}, {}).getMaxLength(), 2048);
  assert.equal(LlamaConfig.fromJSON({ ...LLAMA3_8B, max_position_embeddings: undefined, seq_length: 777 }).getMaxLength(), 2048); // default max_position_embeddings
  const { rope_theta: _t, rope_scaling: _s, torch_dtype: _d, ...v5 } = LLAMA3_8B;
  const c5 = LlamaConfig.fromJSON({ ...v5, dtype: 'float32', rope_parameters: { rope_type: 'llama3', rope_theta: 500000.0, factor: 32.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192 } });
  assert.equal(c5.ropeTheta, 500000);
  assert.equal(c5.ropeScaling!.factor, 32);
  assert.equal(c5.torchDtype, 'float32');
  const out = c5.toJSON();
  assert.equal(out.dtype, 'float32');
  assert.equal(out.torch_dtype, undefined);
  assert.deepEqual(out.rope_parameters, { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192, rope_theta: 500000 });
});

test('validation errors name the file and the field with its value', async () => {
  await assert.rejects(AutoConfig.fromPretrained(write('bad-kv', { ...LLAMA3_8B, num_key_value_heads: 5 })),
    (e: unknown) => e instanceof ConfigError && /config\.json/.test(e.message) && /`num_attention_heads` \(32\) must be a multiple of `num_key_value_heads` \(5\)/.test(e.message));
  await assert.rejects(AutoConfig.fromPretrained(write('bad-hidden', { ...LLAMA3_8B, hidden_size: -1 })), /`hidden_size` must be a positive integer, got -1/);
  await assert.rejects(AutoConfig.fromPretrained(write('bad-rope', { ...LLAMA3_8B, rope_scaling: { type: 'yarn', factor: 4 } })), /`rope_scaling.rope_type` "yarn" is not supported/);
  await assert.rejects(AutoConfig.fromPretrained(write('gpt2', { model_type: 'gpt2' })), /`model_type` "gpt2" is not supported/);
  await assert.rejects(AutoConfig.fromPretrained(path.join(tmp, 'nowhere')), (e: unknown) => e instanceof ConfigError && /cannot read the model config \(ENOENT\)/.test(e.message));
  const dir = path.join(tmp, 'notjson');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'config.json'), '{"hidden_size": ');
  await assert.rejects(AutoConfig.fromPretrained(dir), /not valid JSON/);
  assert.throws(() => new LlamaConfig({ hiddenAct: 'gelu' }), /`hidden_act` must be "silu"/);
});
