import * as tf from '@tensorflow/tfjs-core';
import type { Module } from '../nn/module';
import { Linear4bit } from '../quant/linear4bit';

/** One parameter as torch would list it: a packed 4-bit weight is a uint8 tensor of ceil(n / 2) elements. */
export interface ParamCount {
  name: string;
  numel: number;
  trainable: boolean;
  /** bitsandbytes' Params4bit: PEFT counts it as numel · 2. */
  packed4bit?: boolean;
}

/** The parameters of a module tree, each once (tied weights once), with torch's element counts. */
export function parameterCounts(model: Module): ParamCount[] {
  const packed = new Map<tf.Variable, Linear4bit>();
  for (const [, m] of model.namedModules()) if (m instanceof Linear4bit) packed.set(m.weight, m);
  const seen = new Set<tf.Variable>();
  const out: ParamCount[] = [];
  for (const [name, v] of model.namedParameters()) {
    if (seen.has(v)) continue;
    seen.add(v);
    const q = packed.get(v);
    out.push(q ? { name, numel: Math.ceil(q.numWeights() / 2), trainable: v.trainable, packed4bit: true } : { name, numel: v.size, trainable: v.trainable });
  }
  return out;
}

/** PEFT's `get_nb_trainable_parameters`: [trainable, all], a 4-bit parameter counted as numel · 2. */
export function nbTrainableParameters(params: ParamCount[]): [number, number] {
  let trainable = 0;
  let all = 0;
  for (const p of params) {
    const n = p.packed4bit ? p.numel * 2 : p.numel;
    all += n;
    if (p.trainable) trainable += n;
  }
  return [trainable, all];
}

const grouped = (n: number) => n.toLocaleString('en-US');

/** PEFT's `print_trainable_parameters()` line: `trainable params: 18,874,368 || all params: … || trainable%: 0.2345`. */
export function formatTrainableParameters(params: ParamCount[]): string {
  const [trainable, all] = nbTrainableParameters(params);
  return `trainable params: ${grouped(trainable)} || all params: ${grouped(all)} || trainable%: ${((100 * trainable) / all).toFixed(4)}`;
}

/**
 * The walkthrough's `print_number_of_trainable_model_parameters(model)`: plain numel sums, so a
 * packed 4-bit weight counts its uint8 elements (half its weights), as `param.numel()` does in torch.
 */
export function printNumberOfTrainableModelParameters(model: Module | ParamCount[]): string {
  const params = Array.isArray(model) ? model : parameterCounts(model);
  let trainable = 0;
  let all = 0;
  for (const p of params) {
    all += p.numel;
    if (p.trainable) trainable += p.numel;
  }
  return `trainable model parameters: ${trainable}\nall model parameters: ${all}\npercentage of trainable model parameters: ${((100 * trainable) / all).toFixed(2)}%`;
}
