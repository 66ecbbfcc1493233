import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

/**
 * Backend selection. Every library entry point that makes tensors awaits `ensureBackend()` first,
 * so a notebook that never picks one gets the default (wasm on CPU).
 * (Placeholder: the model-core work fleshes this out: transpose fix, tensorflow, webgpu, cuda.)
 */
let ready: Promise<string> | undefined;

export async function setBackend(name: string = process.env.QLORA_TS_BACKEND ?? 'wasm'): Promise<string> {
  tf.enableProdMode();
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`backend '${name}' could not be initialised`);
  await tf.ready();
  ready = Promise.resolve(tf.getBackend());
  return tf.getBackend();
}

export function ensureBackend(): Promise<string> {
  ready ??= setBackend();
  return ready;
}
