import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CheckpointError, show } from '../errors';
import { readJson, writeJsonAtomic } from '../model/config';
import { decodeRaw, encodeRaw, loadRaw, saveSafetensors, type RawTensor } from '../model/safetensors';
import { ensureBackend } from '../backend';
import { LoraConfig } from './config';
import type { BaseModel, PeftModel } from './peft_model';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
const PREFIX = 'base_model.model.';

/** PEFT's saved name of a parameter: `lora_A.default.weight` → `lora_A.weight`, under `base_model.model.`. */
function savedName(name: string): string {
  return PREFIX + name.replace(/\.(lora_[AB])\.default\./, '.$1.').replace(/\.base_layer\.bias$/, '.bias').replace(/(^|\.)modules_to_save\.default\./, '$1');
}

/** Writes adapter_config.json and adapter_model.safetensors: the trainable tensors, fp32. */
export async function saveAdapter(peft: PeftModel, dir: string): Promise<void> {
  await fs.promises.mkdir(dir, { recursive: true });
  const config = peft.peftConfig.default;
  const tensors = new Map<string, RawTensor>();
  for (const [name, p] of peft.model.namedParameters()) {
    if (!/\.lora_[AB]\./.test(name) && !isSavedExtra(config, name)) continue;
    tensors.set(savedName(name), { dtype: 'F32', shape: [...p.shape], data: encodeRaw(p.dataSync() as Float32Array, 'F32') });
  }
  await saveSafetensors(path.join(dir, ADAPTER_WEIGHTS), tensors, { format: 'pt' });
  await writeJsonAtomic(path.join(dir, ADAPTER_CONFIG), { ...config.toJSON(), inference_mode: true }); // as PEFT saves it
}

function isSavedExtra(config: LoraConfig, name: string): boolean {
  const saved = /(^|\.)modules_to_save\.default\./.test(name);
  const bias = (config.bias === 'all' && name.endsWith('.bias')) || (config.bias === 'lora_only' && name.endsWith('.base_layer.bias'));
  return saved || bias;
}

/** Reads an adapter directory (ours or Python PEFT's) onto `base`. */
export async function loadAdapter<M extends BaseModel>(
  base: M, dir: string, options: { isTrainable?: boolean },
  wrap: (model: M, config: LoraConfig) => PeftModel<M>,
): Promise<PeftModel<M>> {
  await ensureBackend();
  const weights = path.join(dir, ADAPTER_WEIGHTS);
  if (!fs.existsSync(weights)) {
    const hint = fs.existsSync(path.join(dir, 'adapter_model.bin')) ? 'This adapter is a pickle (adapter_model.bin): re-save it in Python with safe_serialization=True.' : 'Pass the directory that save_pretrained wrote.';
    throw new CheckpointError(`${dir}: no ${ADAPTER_WEIGHTS}`, hint);
  }
  const config = LoraConfig.fromJSON(await readJson(path.join(dir, ADAPTER_CONFIG), 'the adapter config'), path.join(dir, ADAPTER_CONFIG));
  config.inferenceMode = !options.isTrainable;
  const peft = wrap(base, config);
  const params = new Map(peft.model.namedParameters().map(([name, p]) => [savedName(name), p]));
  const { tensors } = loadRaw(weights);
  const loaded = new Set<string>();
  for (const [key, raw] of tensors) {
    const name = key.replace(/\.(lora_[AB])\.default\./, '.$1.');
    const p = params.get(name);
    if (!p) throw new CheckpointError(`${weights}: tensor '${key}' matches no parameter of the model`, `this adapter was made for another model or other target_modules; LoRA tensors here look like ${show([...params.keys()].filter((k) => k.includes('lora_A')).slice(0, 2))}`);
    if (raw.shape.join(',') !== p.shape.join(',')) throw new CheckpointError(`${weights}: tensor '${key}' has shape ${show(raw.shape)}, but the model expects ${show(p.shape)}`, 'check that `r` in adapter_config.json matches the weights and that the base model is the one the adapter was trained on');
    const value = tf.tensor(decodeRaw(raw, `${weights}: tensor '${key}'`), raw.shape, 'float32');
    p.assign(value);
    value.dispose();
    loaded.add(name);
  }
  const missing = [...params.keys()].filter((k) => /\.lora_[AB]\.weight$/.test(k) && !loaded.has(k));
  if (missing.length > 0) throw new CheckpointError(`${weights}: no tensor for ${missing.length} LoRA weights, e.g. '${missing[0]}'`, 'the adapter file does not match adapter_config.json');
  if (!options.isTrainable) peft.eval();
  return peft;
}
