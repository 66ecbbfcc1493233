import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureBackend } from '../../../lib/backend';
import { LlamaForCausalLM } from '../../../lib/model/llama';
import { pyFloat } from '../../../lib/nn/repr';

test('a model prints as PyTorch prints it, identical layers folded', async () => {
  await ensureBackend();
  const m = LlamaForCausalLM.fromConfig({ vocabSize: 128, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 3, numAttentionHeads: 4, numKeyValueHeads: 2, rmsNormEps: 1e-5 });
  const text = String(m);
  assert.equal(text.split('\n')[0], 'LlamaForCausalLM(');
  assert.match(text, /\n {4}\(embed_tokens\): Embedding\(128, 32\)\n/);
  assert.match(text, /\n {6}\(0-2\): 3 x LlamaDecoderLayer\(\n {8}\(self_attn\): LlamaAttention\(\n {10}\(q_proj\): Linear\(in_features=32, out_features=32, bias=False\)\n/);
  assert.match(text, /\(k_proj\): Linear\(in_features=32, out_features=16, bias=False\)/);
  assert.match(text, /\n {4}\(norm\): RMSNorm\(\(32,\), eps=1e-05\)\n/);
  assert.match(text, /\n {2}\(lm_head\): Linear\(in_features=32, out_features=128, bias=False\)\n\)$/);
  const bundle = (m as unknown as Record<symbol, () => Record<string, unknown>>)[Symbol.for('Jupyter.display')]();
  assert.deepEqual(bundle, { 'text/plain': text }); // how a notebook cell shows the model
  assert.deepEqual([pyFloat(1e-6), pyFloat(1e-5), pyFloat(0.5), pyFloat(2)], ['1e-06', '1e-05', '0.5', '2.0']);
  m.dispose();
});
