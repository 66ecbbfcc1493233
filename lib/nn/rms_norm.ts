import * as tf from '@tensorflow/tfjs-core';
import { customGrad } from './custom_grad';
import { ArgumentError, show } from '../errors';
import { Module } from './module';
import { pyFloat } from './repr';
import { backendHasKernels } from '../backend/kernel_registry';

/**
 * Names of the fused RMSNorm kernels a backend may register (the cuda and wasm backends do):
 * {x, weight} attr eps → [y, rstd (rows)]; gradient {x, weight, rstd, dy} → dx.
 */
export const FUSED_RMS_NORM = 'QloraRmsNorm';
export const FUSED_RMS_NORM_GRAD = 'QloraRmsNormGrad';
/** Optional (wasm registers it): {x, rstd, dy} → dweight (D) = Σ over rows of dy·x·rstd; tf ops where absent. */
export const FUSED_RMS_NORM_WEIGHT_GRAD = 'QloraRmsNormWeightGrad';

/**
 * RMSNorm as Llama computes it: x · rsqrt(mean(x², -1) + eps) · weight, in float32.
 * Public op: validates, then runs the fused kernels (backend that has them; the weight gradient,
 * when the weight trains, from tf ops) or the composite form (tf ops, any backend, autodiff).
 */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor {
  const d = x.shape[x.shape.length - 1];
  if (weight.rank !== 1 || weight.shape[0] !== d) {
    throw new ArgumentError(`rmsNorm: \`weight\` has shape ${show(weight.shape)}, expected [${d}] (the last dimension of \`x\`)`);
  }
  if (!(eps > 0)) throw new ArgumentError(`rmsNorm: \`eps\` must be positive, got ${show(eps)}`);
  // The fused kernels where the backend has them, whether or not the weight trains, so a model
  // computes the same values before and after its norms are frozen. A frozen weight (QLoRA) gets
  // no gradient; a trainable one gets Σ_rows dy·x·rstd from tf ops.
  if (backendHasKernels(FUSED_RMS_NORM, FUSED_RMS_NORM_GRAD)) {
    const frozen = weight instanceof tf.Variable && !weight.trainable;
    const forward = (xt: tf.Tensor, save: tf.GradSaveFunc) => {
      const [y, rstd] = tf.engine().runKernel(FUSED_RMS_NORM, { x: xt, weight }, { eps }) as tf.Tensor[];
      save([xt, rstd]);
      return y;
    };
    const dx = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(FUSED_RMS_NORM_GRAD, { x: saved[0], weight, rstd: saved[1], dy }, {}) as tf.Tensor;
    if (frozen) {
      const f = customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
        const [xt, save] = args as [tf.Tensor, tf.GradSaveFunc];
        return { value: forward(xt, save), gradFunc: dx };
      });
      return f(x);
    }
    const g = customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [xt, , save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
      return {
        value: forward(xt, save),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          if (backendHasKernels(FUSED_RMS_NORM_WEIGHT_GRAD)) {
            return [dx(dy, saved), tf.engine().runKernel(FUSED_RMS_NORM_WEIGHT_GRAD, { x: saved[0], rstd: saved[1], dy }, {}) as tf.Tensor];
          }
          const rstd = tf.reshape(saved[1], [...saved[0].shape.slice(0, -1), 1]);
          const lead = Array.from({ length: saved[0].rank - 1 }, (_, i) => i);
          return [dx(dy, saved), tf.sum(tf.mul(dy, tf.mul(saved[0], rstd)), lead)];
        },
      };
    });
    return g(x, weight);
  }
  return tf.tidy(() => {
    const variance = tf.mean(tf.square(x), -1, true); // (..., 1)
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(variance, eps))), weight);
  });
}

/** Llama's RMSNorm module: one `weight` of shape (hidden,), initialised to ones. */
export class RMSNorm extends Module {
  weight: tf.Variable; // (hidden)

  constructor(readonly hiddenSize: number, readonly eps = 1e-6, options: { weight?: tf.Tensor; trainable?: boolean } = {}) {
    super();
    this.weight = tf.variable(options.weight ?? tf.ones([hiddenSize]), options.trainable ?? true);
  }

  extraRepr(): string {
    return `(${this.hiddenSize},), eps=${pyFloat(this.eps)}`;
  }

  forward(x: tf.Tensor): tf.Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}
