import * as tf from '@tensorflow/tfjs-core';
import { ArgumentError, show } from '../errors';
import { isRecording, recordTape, type TapeNode } from './engine_tape';

/**
 * Gradients that give memory back while the backward pass runs, as PyTorch's autograd does by
 * reference count. tfjs's engine.gradients() (behind tf.variableGrads and tf.grads) keeps the kept
 * copies every tape node saved and every intermediate gradient until it returns, so a training
 * step peaks at the saved activations plus a gradient for most of them. Here the tape is walked
 * in reverse as there, and right after a node's input gradients are accumulated its saved copies
 * and the gradients of its outputs are disposed. The forward runs in its own tidy as in tfjs, so by
 * then the only forward tensors left are the returned value, kept tensors (saved copies, variables)
 * and tensors made outside `f`; none of those is disposed except the saved copies.
 *
 * Same results as tf.variableGrads / tf.grads: the same nodes, gradient functions and order of
 * accumulation. Inside a recording gradient (a higher-order gradient) they defer to tfjs's own.
 */

/** tf.variableGrads(f, varList) that frees what backward is done with as it goes. */
export function variableGradsReleasing(f: () => tf.Scalar, varList?: tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  if (typeof f !== 'function') throw new ArgumentError(`variableGradsReleasing: \`f\` must be a function, got ${show(typeof f)}`);
  if (varList !== undefined && !(Array.isArray(varList) && varList.every((v) => v instanceof tf.Variable))) {
    throw new ArgumentError('variableGradsReleasing: `varList` must be an array of tf.Variable', 'pass model.trainableParameters(), or nothing for every trainable variable');
  }
  if (isRecording()) return tf.variableGrads(f, varList);
  const all = varList ?? Object.values(tf.engine().registeredVariables);
  const trainable = all.filter((v) => v.trainable);
  if (trainable.length === 0) throw new ArgumentError(`variableGradsReleasing: none of the ${all.length} variables is trainable`, 'unfreeze the parameters to train (LoRA adapters are trainable after getPeftModel)');
  const { value, grads, madeByF } = backward(f, trainable, undefined, 'variableGradsReleasing');
  // A value that `f` did not make (a loss computed before the call) stays the caller's.
  const ownValue = madeByF(value) ? [value] : [];
  if (grads.every((g) => g === undefined)) {
    tf.dispose(ownValue);
    throw new ArgumentError('variableGradsReleasing: the value of `f` does not depend on any of the variables', 'make sure the ops that use the variables run inside `f`');
  }
  if (value.rank !== 0) {
    tf.dispose([...ownValue, ...grads.filter((g) => g !== undefined)]);
    throw new ArgumentError(`variableGradsReleasing: \`f\` must return a scalar, but it returned a rank-${value.rank} tensor`);
  }
  const named: tf.NamedTensorMap = {};
  trainable.forEach((v, i) => {
    if (grads[i]) named[v.name] = grads[i]!;
  });
  // A variable passed in that does not train gets null, as tf.variableGrads gives.
  if (varList) for (const v of varList) if (!v.trainable) named[v.name] = null as unknown as tf.Tensor;
  return { value: value as tf.Scalar, grads: named };
}

/** tf.grads(f) that frees what backward is done with as it goes: (xs, dy?) → one gradient per x. */
export function gradsReleasing(f: (...xs: tf.Tensor[]) => tf.Tensor): (xs: tf.Tensor[], dy?: tf.Tensor) => tf.Tensor[] {
  if (typeof f !== 'function') throw new ArgumentError(`gradsReleasing: \`f\` must be a function, got ${show(typeof f)}`);
  return (xs, dy) => {
    if (!Array.isArray(xs) || xs.length === 0 || !xs.every((x) => x instanceof tf.Tensor)) {
      throw new ArgumentError('gradsReleasing(f)(xs): `xs` must be a non-empty array of tensors');
    }
    if (isRecording()) return tf.grads(f)(xs, dy);
    return tf.tidy(() => {
      const { grads } = backward(() => f(...xs), xs, dy, 'gradsReleasing');
      if (grads.some((g) => g === undefined)) {
        throw new ArgumentError('gradsReleasing: the value of `f` does not depend on every tensor of `xs`', 'make sure `f` encloses every op that leads from each x to its result');
      }
      return grads as tf.Tensor[];
    });
  };
}

/**
 * Runs `f` on a tape and backpropagates from its value (seeded with `dy`, or ones) to `xs`.
 * Gradients of xs that no path reaches come back undefined; `madeByF` tells whether a tensor
 * (the value) was made by `f`, so error paths free only what is theirs. Every saved copy on the tape is freed
 * by the end, whether the walk reached its node or not.
 */
function backward(f: () => tf.Tensor, xs: tf.Tensor[], dy: tf.Tensor | undefined, who: string): { value: tf.Tensor; grads: Array<tf.Tensor | undefined>; madeByF: (t: tf.Tensor) => boolean } {
  const { value: y, tape, madeByF } = recordTape(f);
  try {
    if (!(y instanceof tf.Tensor)) throw new ArgumentError(`${who}: \`f\` must return a tensor, got ${show(y)}`);
    if (dy && dy.shape.join(',') !== y.shape.join(',')) {
      throw new ArgumentError(`${who}: \`dy\` has shape ${show(dy.shape)}, but \`f\` returned shape ${show(y.shape)}`);
    }
    return { value: y, grads: backprop(pathFromXsToY(tape, xs, y), xs, y, dy), madeByF };
  } catch (e) {
    if (y instanceof tf.Tensor && madeByF(y)) y.dispose(); // not an x or a tensor `f` captured
    throw e;
  } finally {
    for (const node of tape) tf.dispose(node.saved ?? []);
  }
}

/**
 * The tape nodes on a path from some x to y, in tape order, each with only the inputs that depend
 * on an x (the same selection as tfjs's getFilteredNodesXToY).
 */
function pathFromXsToY(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const inputsOf = (node: TapeNode) => Object.entries(node.inputs).filter(([, t]) => t != null);
  const fromX = new Set(xs.map((x) => x.id));
  const reachedFromX = new Set<number>();
  for (const node of tape) {
    if (!inputsOf(node).some(([, t]) => fromX.has(t.id))) continue;
    reachedFromX.add(node.id);
    for (const o of node.outputs) fromX.add(o.id);
  }
  const toY = new Set([y.id]);
  const leadsToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (!node.outputs.some((o) => toY.has(o.id))) continue;
    leadsToY.add(node.id);
    for (const [, t] of inputsOf(node)) toY.add(t.id);
  }
  return tape
    .filter((node) => reachedFromX.has(node.id) && leadsToY.has(node.id))
    .map((node) => ({ ...node, inputs: Object.fromEntries(inputsOf(node).filter(([, t]) => fromX.has(t.id))) }));
}

/** Walks the path backward, freeing each node's saved copies and output gradients once it has run. */
function backprop(path: TapeNode[], xs: tf.Tensor[], y: tf.Tensor, dy: tf.Tensor | undefined): Array<tf.Tensor | undefined> {
  const grads = new GradientMap(dy);
  const wanted = new Set(xs.map((x) => x.id));
  try {
    grads.accumulate(y.id, dy ?? tf.ones(y.shape));
    for (let i = path.length - 1; i >= 0; i--) {
      const node = path[i];
      const gradient = node.gradient;
      if (!gradient) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
      const dys = node.outputs.map((o) => grads.get(o.id) ?? null);
      const names = Object.keys(node.inputs);
      // One scope per node: what its gradient function makes on the way (zeros for unused
      // outputs, customGrad's intermediates, gradients of pruned inputs) goes at once.
      const dxs = tf.tidy(() => {
        const thunks = gradient(dys);
        return names.map((name) => {
          if (!(name in thunks)) throw new Error(`Cannot backprop through input ${name} of ${node.kernelName}. Available gradients: ${Object.keys(thunks)}.`);
          return thunks[name]();
        });
      });
      const bad = names.map((name, j) => misfit(node, name, dxs[j])).find((why) => why !== undefined);
      if (bad) {
        dxs.forEach((dx) => grads.release(dx));
        throw new Error(bad);
      }
      names.forEach((name, j) => grads.accumulate(node.inputs[name].id, dxs[j]));
      for (const o of node.outputs) if (!wanted.has(o.id)) grads.drop(o.id);
      for (const t of node.saved ?? []) if (!grads.holds(t)) t.dispose();
    }
    return xs.map((x) => grads.take(x.id));
  } finally {
    grads.disposeRest();
  }
}

/** Why `dx` cannot be the gradient of the node's input `name`, as tfjs words it; undefined when it can. */
function misfit(node: TapeNode, name: string, dx: tf.Tensor): string | undefined {
  const x = node.inputs[name];
  if (dx.dtype !== 'float32') return `Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`;
  if (dx.shape.join(',') !== x.shape.join(',')) return `Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`;
  return undefined;
}

/**
 * Tensor id → accumulated gradient. A gradient function may hand the same tensor to several
 * inputs (or pass its dy through), so tensors are counted by holder and disposed when the last
 * holder lets go; never the caller's `dy` or a kept tensor.
 */
class GradientMap {
  private readonly byId = new Map<number, tf.Tensor>();
  private readonly holders = new Map<tf.Tensor, number>();
  private readonly taken = new Set<tf.Tensor>();

  constructor(private readonly foreign: tf.Tensor | undefined) {}

  get(id: number): tf.Tensor | undefined {
    return this.byId.get(id);
  }

  holds(t: tf.Tensor): boolean {
    return this.holders.has(t) || this.taken.has(t);
  }

  /** Adds `dx` to the gradient of tensor `id` (the map owns dx from here). */
  accumulate(id: number, dx: tf.Tensor): void {
    const current = this.byId.get(id);
    if (!current) {
      this.hold(id, dx);
      return;
    }
    const sum = tf.add(current, dx);
    this.drop(id);
    this.release(dx);
    this.hold(id, sum);
  }

  /** Forgets the gradient of tensor `id`, disposing it unless something else holds it. */
  drop(id: number): void {
    const t = this.byId.get(id);
    if (!t) return;
    this.byId.delete(id);
    const n = this.holders.get(t)! - 1;
    if (n > 0) this.holders.set(t, n);
    else this.holders.delete(t);
    this.release(t);
  }

  /** Hands the gradient of tensor `id` to the caller. */
  take(id: number): tf.Tensor | undefined {
    const t = this.byId.get(id);
    if (t) this.taken.add(t);
    return t;
  }

  disposeRest(): void {
    for (const id of [...this.byId.keys()]) {
      const t = this.byId.get(id)!;
      if (this.taken.has(t)) this.byId.delete(id);
      else this.drop(id);
    }
  }

  private hold(id: number, t: tf.Tensor): void {
    this.byId.set(id, t);
    this.holders.set(t, (this.holders.get(t) ?? 0) + 1);
  }

  /** Disposes `t` unless a gradient entry, the caller or the engine (kept) still holds it. */
  release(t: tf.Tensor): void {
    if (this.holders.has(t) || this.taken.has(t) || t === this.foreign || t.kept) return;
    t.dispose();
  }
}
