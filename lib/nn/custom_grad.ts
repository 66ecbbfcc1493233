import * as tf from '@tensorflow/tfjs-core';
import { isRecording } from '../train/engine_tape';

type CustomGradientFunc<T extends tf.Tensor> = Parameters<typeof tf.customGrad<T>>[0];

const noSave: tf.GradSaveFunc = () => {};

/**
 * tf.customGrad, except that while no gradient is being recorded (inference: generation,
 * evaluation) `f`'s value is computed in a plain tidy, without the engine's kernel record: the same
 * tensors and values, since customGrad's forward runs `f` with a `save` that keeps nothing when the
 * tape is off. Decoding runs about twenty such ops a decoder layer, and the record cost more host
 * time than the kernels they wrap.
 */
export function customGrad<T extends tf.Tensor>(f: CustomGradientFunc<T>): (...args: tf.Tensor[]) => T {
  const recorded = tf.customGrad(f);
  return (...args: tf.Tensor[]) => (isRecording() ? recorded(...args) : tf.tidy(() => f(...args, noSave).value));
}
