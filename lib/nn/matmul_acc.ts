import * as tf from '@tensorflow/tfjs-core';
import { ArgumentError, show } from '../errors';
import { backendHasKernels } from '../backend/kernel_registry';

/**
 * Name of the kernel a backend may register (the cuda backend does): {a, b (2-D), c (optional)}
 * attrs transposeA, transposeB, alpha → c + alpha · op(a) · op(b) in one GEMM (C accumulated with
 * beta = 1), no separate scaling or sum.
 */
export const FUSED_MATMUL_ACC = 'QloraMatMulAcc';

/**
 * c + alpha · op(a) · op(b) for 2-D a and b, or alpha · op(a) · op(b) without c: one GEMM where the
 * backend has the kernel; matMul, mul and add elsewhere (in that order, so the numbers are those of
 * the tf ops). No gradient: for use inside custom-gradient ops such as LoRA's (lib/lora/layer.ts).
 */
export function matMulAcc(a: tf.Tensor2D, b: tf.Tensor2D, transposeA: boolean, transposeB: boolean, alpha: number, c?: tf.Tensor2D): tf.Tensor2D {
  const m = transposeA ? a.shape[1] : a.shape[0];
  const n = transposeB ? b.shape[0] : b.shape[1];
  if (c && (c.shape[0] !== m || c.shape[1] !== n)) throw new ArgumentError(`matMulAcc: \`c\` has shape ${show(c.shape)}, expected [${m}, ${n}]`);
  if (backendHasKernels(FUSED_MATMUL_ACC)) {
    const inputs: tf.NamedTensorMap = c ? { a, b, c } : { a, b };
    return tf.engine().runKernel(FUSED_MATMUL_ACC, inputs, { transposeA, transposeB, alpha }) as tf.Tensor2D;
  }
  return tf.tidy(() => {
    let p: tf.Tensor2D = tf.matMul(a, b, transposeA, transposeB);
    if (alpha !== 1) p = tf.mul(p, alpha);
    return c ? tf.add(c, p) : p;
  });
}
