import * as tf from '@tensorflow/tfjs-core';

/**
 * torch.nn.utils.clip_grad_norm_: the global L2 norm of all gradients; when it exceeds `maxNorm`
 * every gradient is scaled by maxNorm / (norm + 1e-6). Returns the norm before clipping (logged
 * as grad_norm) and the gradients to apply (new tensors when clipped; the caller owns both sets).
 */
export function clipGradNorm(grads: tf.Tensor[], maxNorm: number): { norm: number; grads: tf.Tensor[] } {
  if (grads.length === 0) return { norm: 0, grads };
  const norm = tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))).dataSync()[0]);
  if (!(maxNorm > 0) || !Number.isFinite(norm)) return { norm, grads };
  const coef = maxNorm / (norm + 1e-6);
  if (coef >= 1) return { norm, grads };
  return { norm, grads: grads.map((g) => tf.mul(g, coef)) };
}
