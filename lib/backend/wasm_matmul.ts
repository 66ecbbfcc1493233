import * as tf from '@tensorflow/tfjs-core';

/**
 * The wasm backend's BatchMatMul is ≈ 12× slower with transposeA/transposeB than transposing
 * first (measured in NOTES.md). This re-registers the kernel so that transposed operands are
 * transposed explicitly by the wasm Transpose kernel, then multiplied plainly. Gradients of
 * matMul use transposes, so every backward pass benefits. Idempotent.
 */
let patched = false;

export function patchWasmBatchMatMul(): boolean {
  if (patched) return true;
  const original = tf.getKernel('BatchMatMul', 'wasm');
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (!original || !transpose) return false;
  const fixed: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return original.kernelFunc({ inputs, backend, attrs });
    const made: tf.TensorInfo[] = [];
    const swapLast = (x: tf.TensorInfo): tf.TensorInfo => {
      const perm = x.shape.map((_, i) => i);
      const n = perm.length;
      [perm[n - 2], perm[n - 1]] = [perm[n - 1], perm[n - 2]];
      const out = transpose.kernelFunc({ inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
      made.push(out);
      return out;
    };
    const a2 = transposeA ? swapLast(a) : a;
    const b2 = transposeB ? swapLast(b) : b;
    const out = original.kernelFunc({ inputs: { a: a2, b: b2 }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
    for (const t of made) (backend as tf.KernelBackend).disposeData(t.dataId);
    return out;
  };
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc: fixed, setupFunc: original.setupFunc });
  patched = true;
  return true;
}
