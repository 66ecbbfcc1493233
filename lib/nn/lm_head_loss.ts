import * as tf from '@tensorflow/tfjs-core';
import { ArgumentError } from '../errors';
import * as unkept from './unkept';
import { countedTargets, crossEntropy, IGNORE_INDEX, shiftLabels } from './cross_entropy';
import { backendHasKernels } from '../backend/kernel_registry';

/**
 * Name of the fused kernel a backend may register (the cuda backend does): {hidden (N, h),
 * weight (V, h), ids int32 (N), keep (N)} with attrs invDenom and withGrad → [row loss (N),
 * dhidden (N, h)], the gradient of Σ row loss · invDenom with respect to hidden (a (1) placeholder
 * when withGrad is false). Token chunks go through GEMM → cross-entropy → its gradient → GEMM, so
 * no (N, V) logits or logits gradient are ever whole.
 */
export const FUSED_LM_HEAD_LOSS = 'QloraLmHeadLoss';

/** Whether `weight` takes no gradient: a plain tensor, or a tf.Variable that does not train. */
function frozen(weight: tf.Tensor): boolean {
  return !(weight instanceof tf.Variable) || !weight.trainable;
}

/**
 * Mean cross-entropy of the logits hidden (N, h) · weightᵀ (weight (V, h), lm_head's layout)
 * against targets (N), `ignoreIndex` skipped: `crossEntropy(matMul(hidden, weight, false, true),
 * targets)` without the logits. Where the backend has the fused kernel and the weight is frozen,
 * one pass over token chunks computes the loss and, when a tape records, the gradient with respect
 * to hidden (kept for backward: (N, h) instead of (N, V) logits and their gradient). Elsewhere
 * the composite form, with the same numbers.
 */
export function linearCrossEntropy(hidden: tf.Tensor2D, weight: tf.Tensor2D, targets: number[], ignoreIndex = IGNORE_INDEX): tf.Scalar {
  const [N, H] = hidden.shape;
  const [V, Hw] = weight.shape;
  if (Hw !== H) throw new ArgumentError(`linearCrossEntropy: \`weight\` has shape [${weight.shape}], expected [vocab, ${H}] to match \`hidden\` [${hidden.shape}]`);
  if (targets.length !== N) throw new ArgumentError(`linearCrossEntropy: ${targets.length} targets for ${N} rows of hidden states`);
  if (!backendHasKernels(FUSED_LM_HEAD_LOSS) || !frozen(weight)) {
    return tf.tidy(() => crossEntropy(tf.matMul(hidden, weight, false, true), targets, ignoreIndex));
  }
  const { keep, ids, count } = countedTargets(targets, V, ignoreIndex, 'linearCrossEntropy');
  const denom = Math.max(count, 1);
  // Inside customGrad's forward the tape is paused, so ask before: no gradient pass, no dhidden.
  const withGrad = (tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn();
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const [rowLoss, dHidden] = tf.engine().runKernel(FUSED_LM_HEAD_LOSS,
      { hidden: x, weight, ids: tf.tensor1d(ids, 'int32'), keep: tf.tensor1d(keep) }, { invDenom: 1 / denom, withGrad }) as tf.Tensor[];
    save([dHidden]); // (N, h): d(loss)/d(hidden) for dy = 1
    return {
      value: tf.div(tf.sum(rowLoss), denom) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(saved[0], dy),
    };
  });
  return f(hidden) as tf.Scalar;
}

/**
 * The causal-LM loss straight from the last hidden states (B, T, h) and lm_head's weight (V, h):
 * `causalLmLoss(lm_head(hidden), labels)` without the (B, T, V) logits on backends with the fused
 * kernel.
 */
export function causalLmLinearLoss(hidden: tf.Tensor3D, weight: tf.Tensor2D, labels: number[][], ignoreIndex = IGNORE_INDEX): tf.Scalar {
  const [B, T, H] = hidden.shape;
  if (labels.length !== B || labels.some((row) => row.length !== T)) {
    throw new ArgumentError(`causalLmLinearLoss: \`labels\` must be ${B} rows of ${T}, like \`input_ids\``);
  }
  return tf.tidy(() => linearCrossEntropy(unkept.reshape<tf.Rank.R2>(hidden, [B * T, H]), weight, shiftLabels(labels, T, ignoreIndex), ignoreIndex));
}
