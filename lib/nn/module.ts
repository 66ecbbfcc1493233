import * as tf from '@tensorflow/tfjs-core';

/**
 * A PyTorch-style module tree whose dotted paths are Hugging Face's names
 * (`model.layers.0.self_attn.q_proj.weight`).
 *
 * Children and tensors are found by reflection over own fields, as torch registers attributes:
 * a field holding a Module is a child, an array of Modules is a ModuleList (children "0", "1",
 * …), a tf.Variable is a parameter (trainable or frozen by its `trainable` flag), any other
 * tf.Tensor is a buffer. Field names are therefore the checkpoint's names, snake_case included.
 */
export abstract class Module {
  /** Dropout and other train-only behaviour is on while true. */
  training = true;

  /** Immediate children, in field order; arrays of modules are flattened with index names. */
  namedChildren(): Array<[string, Module]> {
    const out: Array<[string, Module]> = [];
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof Module) out.push([key, value]);
      else if (Array.isArray(value) && value.length > 0 && value.every((v) => v instanceof Module)) {
        value.forEach((child: Module, i: number) => out.push([`${key}.${i}`, child]));
      }
    }
    return out;
  }

  /** This module ('' or prefix) and every descendant, depth first. */
  namedModules(prefix = ''): Array<[string, Module]> {
    const out: Array<[string, Module]> = [[prefix, this]];
    for (const [name, child] of this.namedChildren()) {
      out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    }
    return out;
  }

  /** Own tensors of this module only (not children): parameters and buffers. */
  protected ownTensors(): Array<[string, tf.Tensor]> {
    const out: Array<[string, tf.Tensor]> = [];
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof tf.Tensor) out.push([key, value]);
    }
    return out;
  }

  namedParameters(prefix = ''): Array<[string, tf.Variable]> {
    const out: Array<[string, tf.Variable]> = [];
    for (const [path, mod] of this.namedModules(prefix)) {
      for (const [key, t] of mod.ownTensors()) {
        if (t instanceof tf.Variable) out.push([path ? `${path}.${key}` : key, t]);
      }
    }
    return out;
  }

  namedBuffers(prefix = ''): Array<[string, tf.Tensor]> {
    const out: Array<[string, tf.Tensor]> = [];
    for (const [path, mod] of this.namedModules(prefix)) {
      for (const [key, t] of mod.ownTensors()) {
        if (!(t instanceof tf.Variable)) out.push([path ? `${path}.${key}` : key, t]);
      }
    }
    return out;
  }

  parameters(): tf.Variable[] {
    return this.namedParameters().map(([, v]) => v);
  }

  trainableParameters(): tf.Variable[] {
    return this.parameters().filter((v) => v.trainable);
  }

  /** The descendant at a dotted path (`model.layers.3.mlp`). */
  getSubmodule(path: string): Module {
    if (path === '') return this;
    let mod: unknown = this;
    for (const part of path.split('.')) {
      mod = (mod as Record<string, unknown>)[part];
      if (!(mod instanceof Module) && !Array.isArray(mod)) throw new Error(`no submodule '${path}' (stopped at '${part}')`);
    }
    if (!(mod instanceof Module)) throw new Error(`'${path}' is not a module`);
    return mod;
  }

  /** Replaces the descendant at a dotted path (used by quantization and LoRA injection). */
  setSubmodule(path: string, replacement: Module): void {
    const parts = path.split('.');
    const last = parts.pop()!;
    let parent: unknown = this;
    for (const part of parts) parent = (parent as Record<string, unknown>)[part];
    if (parent === undefined || parent === null) throw new Error(`no parent module for '${path}'`);
    (parent as Record<string, unknown>)[last] = replacement;
  }

  /** Sets training mode on this module and all descendants. */
  train(mode = true): this {
    for (const [, mod] of this.namedModules()) mod.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Frees every parameter and buffer of the tree. */
  dispose(): void {
    for (const [, mod] of this.namedModules()) {
      for (const [, t] of mod.ownTensors()) if (!t.isDisposed) t.dispose();
    }
  }
}
