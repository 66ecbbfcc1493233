import * as tf from '@tensorflow/tfjs-core';
import type { CudaBackend } from './backend';

/**
 * Keeps the large frozen float32 weights of a model — the embedding and an unquantized lm_head,
 * which bitsandbytes leaves in the compute dtype — as bfloat16 on the device, as a PyTorch model
 * loaded with torch_dtype=bfloat16 holds them: half their memory (2.1 GB of the 4.2 GB at the
 * Llama-3-8B shape). Values are rounded to bf16. Parameters that train, non-float32 ones and
 * those under `minSize` elements (norm weights) stay as they are. Only the `cuda` backend can do
 * this; elsewhere nothing changes. Returns the names of the weights now stored in bf16.
 */
export function storeFrozenWeightsInBf16(model: { namedParameters(): Array<[string, tf.Tensor]> }, options: { minSize?: number } = {}): string[] {
  if (tf.getBackend() !== 'cuda') return [];
  const backend = tf.backend() as unknown as CudaBackend;
  const minSize = options.minSize ?? 2 ** 20;
  const seen = new Set<tf.Tensor>();
  const names: string[] = [];
  for (const [name, t] of model.namedParameters()) {
    if (seen.has(t) || t.dtype !== 'float32' || t.size < minSize || (t instanceof tf.Variable && t.trainable)) continue;
    seen.add(t);
    backend.storeAsBf16(t);
    names.push(name);
  }
  return names;
}
