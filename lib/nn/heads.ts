import * as tf from '@tensorflow/tfjs-core';

/** (B, T, n·D) → (B, n, T, D): a projection's output split into n attention heads. */
export function splitHeads(y: tf.Tensor3D, n: number): tf.Tensor4D {
  const [B, T, HD] = y.shape;
  return tf.transpose(tf.reshape(y, [B, T, n, HD / n]), [0, 2, 1, 3]);
}

/** (B, n, T, D) → (B, T, n·D): heads merged back, the layout of o_proj's input. */
export function mergeHeads(x: tf.Tensor4D): tf.Tensor3D {
  const [B, n, T, D] = x.shape;
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [B, T, n * D]);
}
