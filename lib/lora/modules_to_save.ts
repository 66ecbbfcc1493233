import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../nn/module';
import { ModuleDict } from './layer';

/** A deep copy of a module tree whose parameters are new trainable variables (buffers shared). */
export function cloneTrainable<M extends Module>(module: M): M {
  const copy = Object.create(Object.getPrototypeOf(module)) as M;
  const fields = copy as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(module)) {
    if (value instanceof tf.Variable) fields[key] = tf.variable(value, true);
    else if (value instanceof Module) fields[key] = cloneTrainable(value);
    else if (Array.isArray(value) && value.length > 0 && value.every((v) => v instanceof Module)) fields[key] = value.map((v: Module) => cloneTrainable(v));
    else fields[key] = value;
  }
  return copy;
}

/**
 * PEFT's ModulesToSaveWrapper: a module listed in `modules_to_save` (e.g. `lm_head`) is trained as
 * a full copy (`modules_to_save.default`) next to the frozen `original_module`; the copy is saved
 * with the adapter and the original is used while adapters are disabled.
 */
export class ModulesToSaveWrapper extends Module {
  original_module: Module;
  modules_to_save: ModuleDict<Module>;
  disabled = false;

  constructor(original: Module) {
    super();
    this.original_module = original;
    this.modules_to_save = new ModuleDict(cloneTrainable(original));
  }

  /** The module forward runs: the trained copy, or the original while disabled. */
  get active(): Module {
    return this.disabled ? this.original_module : this.modules_to_save.default_;
  }

  forward(...args: unknown[]): unknown {
    return (this.active as unknown as { forward(...a: unknown[]): unknown }).forward(...args);
  }

  // LinearLike and Embedding fields read through to the active module.
  get inFeatures(): number | undefined { return (this.active as unknown as { inFeatures?: number }).inFeatures; }
  get outFeatures(): number | undefined { return (this.active as unknown as { outFeatures?: number }).outFeatures; }
  get weight(): tf.Variable | undefined { return (this.active as unknown as { weight?: tf.Variable }).weight; }

  extraRepr(): string {
    return '';
  }
}
