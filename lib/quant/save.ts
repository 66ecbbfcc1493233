import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { Module } from '../nn/module';
import { LlamaConfig, generationConfigToJSON, writeJsonAtomic, type GenerationConfig } from '../model/config';
import { saveSafetensors, tensorToRaw, type RawTensor, type SafetensorsDtype } from '../model/safetensors';
import { Linear4bit } from './linear4bit';
import type { BitsAndBytesConfig } from './bnb_config';

/** What saving needs of a causal LM (LlamaForCausalLM): its tensors by HF name, config and generation config. */
export interface SavableModel extends Module {
  readonly config: LlamaConfig;
  generationConfig: GenerationConfig;
  stateDict(): Map<string, tf.Tensor>;
}

/**
 * `model.save_pretrained(dir)` for a 4-bit model, as transformers writes one: each Linear4bit in
 * bitsandbytes' layout (`…q_proj.weight` U8 plus `weight.absmax`, `weight.quant_map`, …,
 * `weight.quant_state.bitsandbytes__nf4`), the other tensors as `dtype` (F32 by default), and
 * config.json with `quantization_config`. Reload with
 * `AutoModelForCausalLM.fromPretrained(dir, { quantizationConfig: BitsAndBytesConfig.fromDict(...) })`.
 */
export async function saveQuantizedPretrained(model: SavableModel, dir: string, quantizationConfig: BitsAndBytesConfig, options: { dtype?: 'F32' | 'BF16' | 'F16' } = {}): Promise<void> {
  const dtype: SafetensorsDtype = options.dtype ?? 'F32';
  await fs.promises.mkdir(dir, { recursive: true });
  const quantized = new Map<string, Linear4bit>();
  const owned = new Set<tf.Tensor>();
  for (const [name, m] of model.namedModules()) {
    if (!(m instanceof Linear4bit)) continue;
    quantized.set(name, m);
    for (const [, t] of [...m.namedParameters(), ...m.namedBuffers()]) owned.add(t);
  }
  const raw = new Map<string, RawTensor>();
  for (const [name, t] of model.stateDict()) {
    if (owned.has(t)) continue;
    raw.set(name, await tensorToRaw(t, t.dtype === 'float32' ? dtype : undefined));
  }
  for (const [name, layer] of quantized) {
    for (const [key, value] of layer.stateDict()) raw.set(`${name}.${key}`, value as RawTensor);
  }
  const sorted = new Map([...raw.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  await saveSafetensors(path.join(dir, 'model.safetensors'), sorted, { format: 'pt' });
  const torchDtype = { BF16: 'bfloat16', F16: 'float16', F32: 'float32' }[dtype as 'F32'];
  const cfg = new LlamaConfig({ ...model.config, torchDtype }, { ...model.config.raw, quantization_config: quantizationConfig.toDict() });
  await cfg.savePretrained(dir);
  await writeJsonAtomic(path.join(dir, 'generation_config.json'), generationConfigToJSON(model.generationConfig));
}
