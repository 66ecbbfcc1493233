import * as tf from '@tensorflow/tfjs-core';
import { customGrad } from './custom_grad';
import { ArgumentError, show } from '../errors';
import { backendHasKernels } from '../backend/kernel_registry';
import { gradsReleasing } from '../train/grads';

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
  const f = customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [gt, ut, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([gt, ut]);
    return {
      value: tf.engine().runKernel(FUSED_SWIGLU, { g: gt, u: ut }, {}) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => swigluGrad(saved[0], saved[1], dy),
    };
  });
  return f(g, u);
}

/**
 * [dg, du] of swiglu(g, u) for the output gradient dy, for ops that recompute swiglu in their own
 * backward pass: the fused kernel where the backend has it, elsewhere the composite form's own
 * gradient (the same numbers as through the tape).
 */
export function swigluGrad(g: tf.Tensor, u: tf.Tensor, dy: tf.Tensor): [tf.Tensor, tf.Tensor] {
  if (backendHasKernels(FUSED_SWIGLU, FUSED_SWIGLU_GRAD)) return tf.engine().runKernel(FUSED_SWIGLU_GRAD, { g, u, dy }, {}) as [tf.Tensor, tf.Tensor];
  return gradsReleasing((a: tf.Tensor, b: tf.Tensor) => swiglu(a, b))([g, u], dy) as [tf.Tensor, tf.Tensor];
}

/**
 * A linear layer that can take swiglu(g, u) as its input without keeping that product for the
 * backward pass (LoRA's, lib/lora/layer.ts): it keeps g and u, as swiglu's own gradient would, and
 * recomputes the product (one elementwise kernel) when its gradients need it. Undefined where it cannot; then the caller
 * runs forward(swiglu(g, u)).
 */
export interface SwigluInputLinear {
  forwardSwiglu(g: tf.Tensor, u: tf.Tensor): tf.Tensor | undefined;
}
