import * as tf from '@tensorflow/tfjs-core';
import { ArgumentError, show } from '../errors';
import { backendHasKernels } from '../backend/kernel_registry';

/**
 * Names of the fused SwiGLU kernels a backend may register (the cuda backend does):
 * {g, u} → silu(g)·u; gradient {g, u, dy} → [dg, du].
 */
export const FUSED_SWIGLU = 'QloraSwiGLU';
export const FUSED_SWIGLU_GRAD = 'QloraSwiGLUGrad';

/**
 * Llama's MLP gate: silu(g) · u for same-shaped g (gate_proj output) and u (up_proj output).
 * One fused kernel each way where the backend has them (only g and u are kept for the backward
 * pass); elsewhere tf ops with autodiff.
 */
export function swiglu(g: tf.Tensor, u: tf.Tensor): tf.Tensor {
  if (g.shape.join(',') !== u.shape.join(',')) throw new ArgumentError(`swiglu: gate ${show(g.shape)} and up ${show(u.shape)} must have the same shape`);
  if (!backendHasKernels(FUSED_SWIGLU, FUSED_SWIGLU_GRAD)) {
    return tf.tidy(() => tf.mul(tf.mul(g, tf.sigmoid(g)), u));
  }
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [gt, ut, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([gt, ut]);
    return {
      value: tf.engine().runKernel(FUSED_SWIGLU, { g: gt, u: ut }, {}) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(FUSED_SWIGLU_GRAD, { g: saved[0], u: saved[1], dy }, {}) as tf.Tensor[],
    };
  });
  return f(g, u);
}
