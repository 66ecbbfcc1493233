import * as tf from '@tensorflow/tfjs-core';

/**
 * The tfjs-core engine internals that qlora-ts reaches, all in this file (read against
 * @tensorflow/tfjs-core 4.22, dist/engine.js and dist/tape.js). None of it is public API: if a tfjs
 * upgrade moves them, this is the one file to mend.
 *
 * - `startTape()` / `endTape()` (private) and `state.gradientDepth`: while the depth is above zero,
 *   every kernel run outside another kernel is pushed onto `state.activeTape` as a TapeNode.
 * - `state.activeTape`: the engine keeps one. engine.gradients() starts a fresh one when the depth
 *   is zero and sets it to null when it ends, so a gradient taken inside a gradient function (a
 *   checkpointed layer recomputing itself) replaces the tape of the backward pass around it; the
 *   tape is put back here.
 * - `trackTensor` / `removeDataId` and `state.tensorInfo` (dataId → bytes): every new tensor and
 *   every freed buffer passes through them, which is where `peakDataBytes` counts.
 * - `nextTensorId()`: tensor ids count up, so a tensor with an id past the one drawn before `f`
 *   ran was made by `f` (recordTape's `madeByF`); the draw skips one id, which nothing notices.
 */
export interface TapeNode {
  id: number;
  kernelName: string;
  inputs: tf.NamedTensorMap;
  outputs: tf.Tensor[];
  /** The input gradients, as thunks by input name, from the output gradients (null: output unused). */
  gradient?: (dys: Array<tf.Tensor | null>) => Record<string, () => tf.Tensor>;
  /** Kept copies of what the backward pass reads (kernel save lists, customGrad's save()). */
  saved?: tf.Tensor[];
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number; tensorInfo: WeakMap<object, { bytes: number }> };
  startTape(): void;
  endTape(): void;
  trackTensor(t: tf.Tensor, backend: unknown): void;
  removeDataId(dataId: object, backend: unknown): void;
  nextTensorId(): number;
}

function engine(): EngineInternals {
  return tf.engine() as unknown as EngineInternals;
}

/** True while an enclosing gradient computation is recording ops (a higher-order gradient). */
export function isRecording(): boolean {
  return engine().state.gradientDepth > 0;
}

/**
 * Runs `f` in its own tidy while the engine records, as engine.gradients() does, and returns f's
 * result with the recorded tape, and `madeByF`, which tells a tensor `f` made (the caller's to
 * free) from one that was there before (an input or a captured tensor `f` returned). The tape
 * that was active before is put back. If `f` throws, the kept copies recorded so far are freed.
 */
export function recordTape<T extends tf.TensorContainer>(f: () => T): { value: T; tape: TapeNode[]; madeByF: (t: tf.Tensor) => boolean } {
  const eng = engine();
  const before = eng.state.activeTape;
  const lastIdBefore = eng.nextTensorId();
  const madeByF = (t: tf.Tensor) => t.id > lastIdBefore;
  eng.startTape();
  let tape: TapeNode[] = [];
  try {
    const value = tf.tidy('forward', f);
    tape = eng.state.activeTape ?? [];
    return { value, tape, madeByF };
  } catch (e) {
    tape = eng.state.activeTape ?? [];
    for (const node of tape) tf.dispose(node.saved ?? []);
    throw e;
  } finally {
    eng.endTape();
    eng.state.activeTape = before;
  }
}

/**
 * Runs `f` and returns its result with `peakBytes`: the most bytes of tensor data alive at any
 * moment during it beyond what was alive when it began (buffers it frees that were older count
 * against it). Each buffer counts once however many tensors share it (reshapes and the engine's
 * kept copies share their input's buffer), unlike `tf.memory().numBytes`, which counts every
 * tensor. Sampled at every new tensor, from the engine's own bookkeeping.
 */
export function peakDataBytes<T>(f: () => T): { result: T; peakBytes: number } {
  const eng = engine();
  const info = eng.state.tensorInfo;
  let live = 0;
  let peakBytes = 0;
  const track = eng.trackTensor;
  const remove = eng.removeDataId;
  eng.trackTensor = function (t, backend) {
    const fresh = !info.has(t.dataId);
    track.call(this, t, backend);
    if (fresh && info.has(t.dataId)) {
      live += info.get(t.dataId)!.bytes;
      peakBytes = Math.max(peakBytes, live);
    }
  };
  eng.removeDataId = function (dataId, backend) {
    const had = info.get(dataId);
    remove.call(this, dataId, backend);
    if (had && !info.has(dataId)) live -= had.bytes;
  };
  try {
    const result = f();
    return { result, peakBytes };
  } finally {
    eng.trackTensor = track;
    eng.removeDataId = remove;
  }
}
