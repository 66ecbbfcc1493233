import * as tf from '@tensorflow/tfjs-core';
import { Module } from './module';

/**
 * Anything that maps (..., inFeatures) → (..., outFeatures): a plain Linear, a 4-bit Linear4bit,
 * a LoRA-wrapped linear. The model holds its projections through this interface, so quantization
 * and LoRA swap modules in place without the model knowing.
 */
export interface LinearLike extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  forward(x: tf.Tensor): tf.Tensor;
}

export function isLinearLike(m: unknown): m is LinearLike {
  if (!(m instanceof Module)) return false;
  const l = m as unknown as Partial<Record<'inFeatures' | 'outFeatures' | 'forward', unknown>>;
  return typeof l.inFeatures === 'number' && typeof l.outFeatures === 'number' && typeof l.forward === 'function';
}

/** y = x Wᵀ (+ b), weight stored as torch does: (outFeatures, inFeatures). */
export class Linear extends Module implements LinearLike {
  weight: tf.Variable; // (out, in)
  bias: tf.Variable | undefined; // (out)

  constructor(readonly inFeatures: number, readonly outFeatures: number, options: { weight?: tf.Tensor; bias?: tf.Tensor; trainable?: boolean } = {}) {
    super();
    const trainable = options.trainable ?? true;
    const w = options.weight ?? tf.zeros([outFeatures, inFeatures]);
    if (w.shape.length !== 2 || w.shape[0] !== outFeatures || w.shape[1] !== inFeatures) {
      throw new Error(`Linear weight has shape [${w.shape}], expected [${outFeatures}, ${inFeatures}]`);
    }
    this.weight = tf.variable(w, trainable);
    this.bias = options.bias ? tf.variable(options.bias, trainable) : undefined;
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const x2 = tf.reshape(x, [-1, this.inFeatures]); // (N, in)
      let y = tf.matMul(x2, this.weight, false, true); // (N, out)
      if (this.bias) y = tf.add(y, this.bias);
      return tf.reshape(y, [...lead, this.outFeatures]);
    });
  }
}

/**
 * What `AutoModelForCausalLM.fromPretrained(dir, { quantizationConfig })` needs from a
 * quantization config (BitsAndBytesConfig implements it): the loader hands each decoder linear
 * weight over as it is read, so only one full-precision tensor is alive at a time.
 */
export interface LinearQuantizer {
  /** True when the module at this dotted name (e.g. `lm_head`) must stay unquantized. */
  skips(moduleName: string): boolean;
  /** Builds the quantized layer from a (out, in) float32 weight; takes ownership of `weight`. */
  quantizeLinear(moduleName: string, weight: tf.Tensor, bias?: tf.Tensor): LinearLike;
  /**
   * Builds the layer from an already-quantized checkpoint's state: the tensors whose names start
   * with `${moduleName}.weight` (`weight`, `weight.absmax`, `weight.quant_map`, …), keys relative
   * to the module. Raw bytes stay Uint8Array so U8 data keep their layout.
   */
  loadQuantizedLinear?(moduleName: string, state: Map<string, { dtype: string; shape: number[]; data: Uint8Array }>): LinearLike;
}
