import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTrainableParameters, nbTrainableParameters, printNumberOfTrainableModelParameters, parameterCounts, type ParamCount } from '../../../lib/lora/count';
import { ensureBackend } from '../../../lib/backend';
import { LlamaForCausalLM } from '../../../lib/model/llama';
import { Linear } from '../../../lib/nn/linear';
import { BitsAndBytesConfig } from '../../../lib/quant/bnb_config';
import { getPeftModel } from '../../../lib/lora/peft_model';
import { LoraConfig } from '../../../lib/lora/config';
import * as tf from '@tensorflow/tfjs-core';
import { displaySymbol } from '../../../lib/display';

/**
 * Meta-Llama-3-8B's parameters from its config.json shapes (hidden 4096, intermediate 14336, 32
 * layers, 32 heads, 8 KV heads of 128, vocab 128256, untied), optionally 4-bit and with LoRA r on q/k/v.
 */
function llama3_8b(options: { fourBit: boolean; r: number }): ParamCount[] {
  const h = 4096, inter = 14336, kv = 8 * 128, vocab = 128256;
  const out: ParamCount[] = [{ name: 'model.embed_tokens.weight', numel: vocab * h, trainable: false }];
  for (let i = 0; i < 32; i++) {
    const p = `model.layers.${i}`;
    const linears: Array<[string, number, number]> = [
      ['self_attn.q_proj', h, h], ['self_attn.k_proj', h, kv], ['self_attn.v_proj', h, kv], ['self_attn.o_proj', h, h],
      ['mlp.gate_proj', h, inter], ['mlp.up_proj', h, inter], ['mlp.down_proj', inter, h],
    ];
    for (const [name, inF, outF] of linears) {
      const lora = /[qkv]_proj/.test(name);
      const weight = `${p}.${name}${lora ? '.base_layer' : ''}.weight`;
      out.push(options.fourBit ? { name: weight, numel: (inF * outF) / 2, trainable: false, packed4bit: true } : { name: weight, numel: inF * outF, trainable: false });
      if (lora) {
        out.push({ name: `${p}.${name}.lora_A.default.weight`, numel: options.r * inF, trainable: true });
        out.push({ name: `${p}.${name}.lora_B.default.weight`, numel: outF * options.r, trainable: true });
      }
    }
    out.push({ name: `${p}.input_layernorm.weight`, numel: h, trainable: false }, { name: `${p}.post_attention_layernorm.weight`, numel: h, trainable: false });
  }
  out.push({ name: 'model.norm.weight', numel: h, trainable: false }, { name: 'lm_head.weight', numel: vocab * h, trainable: false });
  return out;
}

test('Llama-3-8B, LoRA r=32 on q/k/v: PEFT prints 18,874,368 trainable of 8,049,135,616 (4-bit counted ×2)', () => {
  const fourBit = llama3_8b({ fourBit: true, r: 32 });
  assert.deepEqual(nbTrainableParameters(fourBit), [18_874_368, 8_049_135_616]);
  assert.equal(formatTrainableParameters(fourBit), 'trainable params: 18,874,368 || all params: 8,049,135,616 || trainable%: 0.2345');
  assert.equal(formatTrainableParameters(llama3_8b({ fourBit: false, r: 32 })), 'trainable params: 18,874,368 || all params: 8,049,135,616 || trainable%: 0.2345');
});

test('the walkthrough\'s three-line printout sums numel, so a packed 4-bit weight counts half', () => {
  assert.equal(printNumberOfTrainableModelParameters(llama3_8b({ fourBit: true, r: 32 })),
    'trainable model parameters: 18874368\nall model parameters: 4559474688\npercentage of trainable model parameters: 0.41%');
  assert.equal(printNumberOfTrainableModelParameters(llama3_8b({ fourBit: false, r: 32 })),
    'trainable model parameters: 18874368\nall model parameters: 8049135616\npercentage of trainable model parameters: 0.23%');
});

test('parameterCounts lists a Linear4bit weight as torch does (uint8 numel = n/2) and PEFT totals match fp32', async () => {
  await ensureBackend();
  const cfg = { vocabSize: 64, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 1, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 8 };
  const fp = getPeftModel(LlamaForCausalLM.fromConfig(cfg), new LoraConfig({ r: 2, targetModules: ['q_proj'] }));
  const model = LlamaForCausalLM.fromConfig(cfg);
  const q = new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4' });
  for (const [name, mod] of model.namedModules()) {
    if (mod instanceof Linear && !q.skips(name)) model.setSubmodule(name, q.quantizeLinear(name, tf.clone(mod.weight)));
  }
  const q4 = getPeftModel(model, new LoraConfig({ r: 2, targetModules: ['q_proj'] }));
  const packed = parameterCounts(q4).find((p) => p.name.endsWith('q_proj.base_layer.weight'))!;
  assert.deepEqual(packed, { name: 'base_model.model.model.layers.0.self_attn.q_proj.base_layer.weight', numel: 512, trainable: false, packed4bit: true });
  assert.deepEqual(q4.getNbTrainableParameters(), fp.getNbTrainableParameters());
  fp.dispose();
  q4.dispose();
});

test('configs and models render in notebooks like their Python reprs', async () => {
  await ensureBackend();
  const c = new LoraConfig({ r: 32, loraAlpha: 32, loraDropout: 0.05, targetModules: ['q_proj', 'k_proj', 'v_proj'], taskType: 'CAUSAL_LM' });
  assert.equal(c[displaySymbol]()['text/plain'], 'LoraConfig(task_type="CAUSAL_LM", r=32, lora_alpha=32, lora_dropout=0.05, target_modules=["q_proj","k_proj","v_proj"], bias="none", use_rslora=false, modules_to_save=null, layers_to_transform=null, inference_mode=false)');
  const q = new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4' });
  assert.match(String(q[displaySymbol]()['text/plain']), /^BitsAndBytesConfig \{\n {2}"_load_in_4bit": true,/);
  const model = LlamaForCausalLM.fromConfig({ vocabSize: 64, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 1, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 8 });
  model.setSubmodule('model.layers.0.self_attn.q_proj', q.quantizeLinear('model.layers.0.self_attn.q_proj', tf.clone((model.getSubmodule('model.layers.0.self_attn.q_proj') as Linear).weight)));
  const peft = getPeftModel(model, new LoraConfig({ r: 2, targetModules: ['q_proj', 'v_proj'] }));
  const tree = String(peft[displaySymbol]()['text/plain']);
  assert.match(tree, /^PeftModelForCausalLM\(\n {2}\(base_model\): LoraModel\(\n {4}\(model\): LlamaForCausalLM\(/);
  assert.match(tree, /\(q_proj\): LoraLinear\(\n\s+\(base_layer\): Linear4bit\(in_features=32, out_features=32, bias=False, quant_type=nf4, blocksize=64, double_quant=False\)\n\s+\(lora_A\): ModuleDict\(\n\s+\(default\): Linear\(in_features=32, out_features=2, bias=False\)/);
  const layer = peft.loraLayers()[0][1].base_layer as unknown as { [displaySymbol](): Record<string, unknown> };
  assert.equal(layer[displaySymbol]()['text/plain'], 'Linear4bit(in_features=32, out_features=32, bias=False, quant_type=nf4, blocksize=64, double_quant=False)');
  peft.dispose();
});
