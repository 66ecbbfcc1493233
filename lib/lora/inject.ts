import { ConfigError, show } from '../errors';
import type { Module } from '../nn/module';
import { isLinearLike } from '../nn/linear';
import type { LoraConfig } from './config';
import { LoraLinear } from './layer';

export interface TargetMatch {
  /** Dotted names (relative to the base model) of the linear layers that get an adapter. */
  targets: string[];
  /** Listed target names that matched nothing (PEFT skips these silently; we say so). */
  warnings: string[];
}

/** PEFT's layer index of a name like `model.layers.12.self_attn.q_proj` (the number before the last dotted parts). */
function layerIndex(name: string): number | undefined {
  const m = /.*\.[^.]*\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Whether `name` is a target, as PEFT's check_target_module_exists decides it. */
export function isTarget(config: LoraConfig, name: string): boolean {
  const x = config.excludeModules;
  if (typeof x === 'string' ? new RegExp(`^(?:${x})$`).test(name) : x?.some((k) => name === k || name.endsWith(`.${k}`))) return false;
  const t = config.targetModules;
  if (t === 'all-linear') return name !== 'lm_head' && !name.endsWith('.lm_head');
  if (typeof t === 'string') return new RegExp(`^(?:${t})$`).test(name);
  if (!t) return false;
  if (t.includes(name)) return true;
  if (!t.some((k) => name.endsWith(`.${k}`))) return false;
  const layers = config.layersToTransform;
  if (layers === null) return true;
  const i = layerIndex(name);
  if (i === undefined) return false;
  return typeof layers === 'number' ? i === layers : layers.includes(i);
}

/** Finds the target layers: non-linear matches and an empty result are errors, unmatched list entries warnings. */
export function findTargets(model: Module, config: LoraConfig): TargetMatch {
  const targets: string[] = [];
  const names = model.namedModules().map(([n, m]) => [n, m] as const).filter(([n]) => n !== '');
  for (const [name, mod] of names) {
    if (mod instanceof LoraLinear) throw new ConfigError(`\`${name}\` already has a LoRA adapter.`, 'Call getPeftModel on the base model once; to continue training load the adapter with PeftModel.fromPretrained(base, dir, { isTrainable: true }).');
    if (/\.(lora_A|lora_B|base_layer)(\.|$)/.test(name) || !isTarget(config, name)) continue;
    if (!isLinearLike(mod)) {
      if (config.targetModules === 'all-linear') continue;
      throw new ConfigError(`Target module \`${name}\` (${mod.constructor.name}) is not supported. Currently, only linear layers (Linear, Linear4bit) can get a LoRA adapter.`, `Name its projections instead, e.g. ${show(['q_proj', 'v_proj'])}.`);
    }
    targets.push(name);
  }
  const warnings: string[] = [];
  const t = config.targetModules;
  if (Array.isArray(t)) {
    for (const k of t) {
      if (!names.some(([n]) => n === k || n.endsWith(`.${k}`))) {
        warnings.push(`Target module \`${k}\` matches no module of the model and is skipped (PEFT skips it silently).`);
      }
    }
  }
  if (targets.length === 0) {
    const leaves = [...new Set(names.filter(([, m]) => isLinearLike(m)).map(([n]) => n.split('.').pop()!))];
    throw new ConfigError(
      `Target modules ${show(Array.isArray(t) ? t : [t])} not found in the base model. Please check the target modules and try again.`,
      `The model's linear layers are named ${show(leaves.slice(0, 10))}.`,
    );
  }
  return { targets, warnings };
}
