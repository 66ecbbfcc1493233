import * as tf from '@tensorflow/tfjs-core';
import { ArgumentError, show } from '../errors';
import { backendHasKernels } from '../backend/kernel_registry';

/** Labels with this value count for nothing, as in torch's CrossEntropyLoss. */
export const IGNORE_INDEX = -100;

/**
 * Names of the fused kernels a backend may register (the cuda backend does): forward
 * {logits (N, V), ids int32 (N), keep (N)} → [row loss (N), logsumexp (N)]; gradient
 * {logits, ids, keep, lse, dy} with attr invDenom → dlogits (N, V).
 */
export const FUSED_CROSS_ENTROPY = 'QloraCrossEntropy';
export const FUSED_CROSS_ENTROPY_GRAD = 'QloraCrossEntropyGrad';

/**
 * The rows that count: keep (1 where the target is not `ignoreIndex`), their target ids (0
 * elsewhere) and how many there are. A target outside [0, V) is an error naming `caller` and the row.
 */
export function countedTargets(targets: number[], V: number, ignoreIndex: number, caller: string): { keep: Float32Array; ids: Int32Array; count: number } {
  const keep = new Float32Array(targets.length);
  const ids = new Int32Array(targets.length);
  let count = 0;
  targets.forEach((t, i) => {
    if (t === ignoreIndex) return;
    if (!Number.isInteger(t) || t < 0 || t >= V) throw new ArgumentError(`${caller}: target ${show(t)} at row ${i} is outside [0, ${V})`);
    keep[i] = 1;
    ids[i] = t;
    count++;
  });
  return { keep, ids, count };
}

/**
 * Mean cross-entropy of logits (N, V) against integer targets (N) with `ignoreIndex` skipped:
 * mean over counted rows, like torch. Forward: logsumexp − picked logit; backward written once:
 * (softmax − onehot) · dy / count, so only the logits are kept for the backward pass.
 */
export function crossEntropy(logits: tf.Tensor2D, targets: number[], ignoreIndex = IGNORE_INDEX): tf.Scalar {
  const [N, V] = logits.shape;
  if (targets.length !== N) throw new ArgumentError(`crossEntropy: ${targets.length} targets for ${N} rows of logits`);
  const { keep, ids, count } = countedTargets(targets, V, ignoreIndex, 'crossEntropy');
  const denom = Math.max(count, 1);
  if (count === 0) return tf.tidy(() => tf.mul(tf.sum(logits), 0) as tf.Scalar);
  // Constants made inside forward and backward (each scope frees its own): no input-dependent kernel.
  const constants = () => [tf.tensor1d(keep), tf.tensor1d(ids, 'int32')] as const;
  if (backendHasKernels(FUSED_CROSS_ENTROPY, FUSED_CROSS_ENTROPY_GRAD)) {
    const fused = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
      const [keepT, idsT] = constants();
      const [rowLoss, lse] = tf.engine().runKernel(FUSED_CROSS_ENTROPY, { logits: x, ids: idsT, keep: keepT }, {}) as tf.Tensor[];
      save([x, lse]);
      return {
        value: tf.div(tf.sum(rowLoss), denom) as tf.Scalar,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [keepT, idsT] = constants();
          return tf.engine().runKernel(FUSED_CROSS_ENTROPY_GRAD, { logits: saved[0], ids: idsT, keep: keepT, lse: saved[1], dy }, { invDenom: 1 / denom }) as tf.Tensor;
        },
      };
    });
    return fused(logits) as tf.Scalar;
  }
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([x]);
    const [keepT, idsT] = constants();
    const lse = tf.logSumExp(x, -1); // (N)
    const picked = tf.sum(tf.mul(x, tf.oneHot(idsT, V)), -1); // (N)
    const loss = tf.div(tf.sum(tf.mul(tf.sub(lse, picked), keepT)), denom) as tf.Scalar;
    return {
      value: loss,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [keepT, idsT] = constants();
        const p = tf.softmax(saved[0], -1); // (N, V)
        const g = tf.mul(tf.sub(p, tf.oneHot(idsT, V)), tf.reshape(keepT, [N, 1])); // (N, V)
        return tf.mul(g, tf.div(dy, denom));
      },
    };
  });
  return f(logits) as tf.Scalar;
}

/**
 * The causal-LM loss of transformers: logits (B, T, V) at position t predict labels[t + 1];
 * the shift is done on the host (labels), so no slice of the logits is needed.
 */
export function causalLmLoss(logits: tf.Tensor3D, labels: number[][], ignoreIndex = IGNORE_INDEX): tf.Scalar {
  const [B, T, V] = logits.shape;
  if (labels.length !== B || labels.some((row) => row.length !== T)) {
    throw new ArgumentError(`causalLmLoss: \`labels\` must be ${B} rows of ${T}, like \`input_ids\``);
  }
  return tf.tidy(() => crossEntropy(tf.reshape(logits, [B * T, V]) as tf.Tensor2D, shiftLabels(labels, T, ignoreIndex), ignoreIndex));
}

/** Row-major targets (B·T) for a causal LM: position t predicts labels[t + 1]; the last position is ignored. */
export function shiftLabels(labels: number[][], T: number, ignoreIndex = IGNORE_INDEX): number[] {
  const shifted: number[] = [];
  for (const row of labels) for (let t = 0; t < T; t++) shifted.push(t + 1 < T ? row[t + 1] : ignoreIndex);
  return shifted;
}
