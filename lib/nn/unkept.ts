import * as tf from '@tensorflow/tfjs-core';
import { customGrad } from './custom_grad';
import { ArgumentError, show } from '../errors';

/**
 * Add and Reshape for the training path, each one tape node that keeps nothing for the backward
 * pass. tfjs's own Add and Reshape gradients keep copies of their inputs although they read only
 * the shapes, and a kept copy holds its buffer until the backward pass reaches the node: the
 * residual sums of a decoder layer would keep the attention and MLP outputs alive (2 × B·T·hidden
 * floats a layer) when nothing else needs them. Same values and gradients as tf.add / tf.reshape.
 * Import as a namespace: `unkept.add(h, a)`.
 */

/** a + b for float32 tensors of one shape (no broadcasting); gradient dy to each. */
export function add<T extends tf.Tensor>(a: T, b: T): T {
  if (a.shape.join(',') !== b.shape.join(',')) throw new ArgumentError(`unkept.add: \`a\` ${show(a.shape)} and \`b\` ${show(b.shape)} must have the same shape`, 'use tf.add to broadcast');
  if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new ArgumentError(`unkept.add: \`a\` and \`b\` must be float32, got ${a.dtype} and ${b.dtype}`);
  const f = customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, y] = args as tf.Tensor[];
    return {
      value: tf.add(x, y),
      // Two tensors over the one buffer, so no gradient is disposed while the other input needs it.
      gradFunc: (dy: tf.Tensor) => [dy, tf.clone(dy)],
    };
  });
  return f(a, b) as T;
}

/** x reshaped to `shape` (one -1 allowed); the gradient is dy reshaped back. Other dtypes than float32 (no gradient): tf.reshape. */
export function reshape<R extends tf.Rank>(x: tf.Tensor, shape: number[]): tf.Tensor<R> {
  if (x.dtype !== 'float32') return tf.reshape<tf.Rank>(x, shape) as tf.Tensor<R>;
  const inShape = x.shape;
  const f = customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: tf.reshape(args[0] as tf.Tensor, shape),
    gradFunc: (dy: tf.Tensor) => tf.reshape(dy, inShape),
  }));
  return f(x) as tf.Tensor<R>;
}
