import * as tf from '@tensorflow/tfjs-core';
import { ArgumentError, show } from '../errors';
import { backendHasKernels } from '../backend/kernel_registry';

/**
 * Name of the dropout kernel a backend may register (the cuda backend does): {x} attrs {rate,
 * seed} → x · mask / (1 − rate), the mask drawn on the device from (seed, element index).
 */
export const FUSED_DROPOUT = 'QloraDropout';

/**
 * Inverted dropout with a seed: each element of x is kept with probability 1 − rate and scaled by
 * 1 / (1 − rate), else zeroed — tf.dropout, the same numbers on backends without the kernel.
 * Where the backend has it (cuda), the mask comes from a counter-based generator on the device
 * and is never stored or sent from the host: the backward pass applies the same kernel to dy
 * with the same seed, which redraws the same mask. The same seed always gives the same mask on
 * one backend (checkpointed layers replay it); masks differ between backends.
 */
export function dropout(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  if (!(rate >= 0 && rate < 1)) throw new ArgumentError(`dropout: \`rate\` must be in [0, 1), got ${show(rate)}`);
  if (!backendHasKernels(FUSED_DROPOUT)) return tf.dropout(x, rate, undefined, seed);
  const attrs = { rate, seed };
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const xt = args[0] as tf.Tensor;
    return {
      value: tf.engine().runKernel(FUSED_DROPOUT, { x: xt }, attrs) as tf.Tensor,
      gradFunc: (dy: tf.Tensor) => tf.engine().runKernel(FUSED_DROPOUT, { x: dy }, attrs) as tf.Tensor,
    };
  });
  return f(x);
}
