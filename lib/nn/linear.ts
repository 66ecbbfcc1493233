import * as tf from '@tensorflow/tfjs-core';
import { customGrad } from './custom_grad';
import { Module } from './module';
import * as unkept from './unkept';

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

/**
 * A linear layer whose parameters may not train gives its products directly, without the tape:
 * `matmul2d` x (N, in) → (N, out) and `inputGradient` dy (N, out) → dy · W (N, in). LoRA's fused
 * forward (lib/lora/layer.ts) runs its frozen base layer through them inside one custom-gradient op.
 */
export interface FrozenLinear {
  /** True while no parameter of the layer trains. */
  isFrozen(): boolean;
  matmul2d(x: tf.Tensor2D): tf.Tensor2D;
  inputGradient(dy: tf.Tensor2D): tf.Tensor2D;
}

/** The layer as a FrozenLinear when it offers that and nothing of it trains now. */
export function frozenLinear(m: LinearLike): FrozenLinear | undefined {
  const f = m as Partial<FrozenLinear>;
  return typeof f.isFrozen === 'function' && typeof f.matmul2d === 'function' && typeof f.inputGradient === 'function' && f.isFrozen() ? (f as FrozenLinear) : undefined;
}

export function isLinearLike(m: unknown): m is LinearLike {
  if (!(m instanceof Module)) return false;
  const l = m as unknown as Partial<Record<'inFeatures' | 'outFeatures' | 'forward', unknown>>;
  return typeof l.inFeatures === 'number' && typeof l.outFeatures === 'number' && typeof l.forward === 'function';
}

/** y = x Wᵀ (+ b), weight stored as torch does: (outFeatures, inFeatures). */
export class Linear extends Module implements LinearLike, FrozenLinear {
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

  isFrozen(): boolean {
    return !this.weight.trainable && !this.bias?.trainable;
  }

  /** x (N, in) · Wᵀ (+ b) → (N, out). */
  matmul2d(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => (this.bias ? tf.add(tf.matMul(x, this.weight, false, true), this.bias) : tf.matMul(x, this.weight, false, true)) as tf.Tensor2D);
  }

  /** dy (N, out) · W → (N, in). */
  inputGradient(dy: tf.Tensor2D): tf.Tensor2D {
    return tf.matMul(dy, this.weight);
  }

  /**
   * (..., in) → (..., out). While nothing of the layer trains, the product is one tape node that
   * keeps nothing (its input gradient needs only W; tfjs's MatMul would keep x too).
   */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const x2 = unkept.reshape<tf.Rank.R2>(x, [-1, this.inFeatures]); // (N, in)
      let y: tf.Tensor;
      if (this.isFrozen()) {
        y = this.frozenProduct(x2); // (N, out)
      } else {
        y = tf.matMul(x2, this.weight, false, true); // (N, out)
        if (this.bias) y = tf.add(y, this.bias);
      }
      return unkept.reshape(y, [...lead, this.outFeatures]);
    });
  }

  private frozenProduct(x2: tf.Tensor2D): tf.Tensor2D {
    const f = customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
      value: this.matmul2d(args[0] as tf.Tensor2D), // (N, out)
      gradFunc: (dy: tf.Tensor) => this.inputGradient(dy as tf.Tensor2D), // (N, in)
    }));
    return f(x2) as tf.Tensor2D;
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
