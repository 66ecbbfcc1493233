import * as tf from '@tensorflow/tfjs-core';
import { customGrad } from '../nn/custom_grad';
import { Module } from '../nn/module';
import type { FrozenLinear, LinearLike } from '../nn/linear';
import * as unkept from '../nn/unkept';
import { ArgumentError } from '../errors';
import { displaySymbol, type MimeBundle } from '../display';
import { bytesToWords, dequantize4bitOp, hasMatmul4bit, matmul4bitOp, wordsToBytes, type Dequantize4bitAttrs, type Dequantize4bitInputs } from './dequantize_op';
import { quantize4bit, quantStateToDict, type QuantType, type Quantized4bit, type RawTensor } from './quant_state';

export type ComputeDtype = 'float32' | 'float16' | 'bfloat16';

export interface Linear4bitOptions {
  quantType?: QuantType;
  blocksize?: number;
  compressStatistics?: boolean;
  /**
   * bitsandbytes' compute_dtype: on cuda, bfloat16 and float16 round the activations and the dequantized
   * weight to that type before a GEMM with fp32 accumulate; the CPU backends compute in float32.
   */
  computeDtype?: ComputeDtype;
}

/** A 4-bit weight already in tfjs memory: packed words as Linear4bit keeps them, fp32 absmax per block, the code. */
export interface Packed4bitTensors {
  /** (ceil(out·in / 8)) int32, bitsandbytes' bytes 4 per word. */
  words: tf.Tensor;
  /** (ceil(out·in / blocksize)) float32. */
  absmax: tf.Tensor;
  /** (16) float32 codebook (codeFor(quantType)). */
  code: tf.Tensor;
  quantType: QuantType;
  blocksize: number;
  dtype?: string;
}

/**
 * A 4-bit linear layer (bitsandbytes' Linear4bit): the weight stays packed in tfjs memory, 8 codes
 * per int32 (1/8 of its float32 size, plus one absmax per block), and is dequantized on the fly in
 * forward and backward. The weight gets no gradient; the gradient to the input flows (dx = dy · W).
 */
export class Linear4bit extends Module implements LinearLike, FrozenLinear {
  /** (ceil(out·in / 8)) int32: bitsandbytes' packed bytes, 4 per word. Frozen parameter. */
  weight: tf.Variable;
  /** (nBlocks) float32 absmax, or (ceil(nBlocks / 4)) int32 of packed uint8 codes when double-quantized. */
  absmax: tf.Tensor;
  /** (16) float32 codebook. */
  quant_map: tf.Tensor;
  /** (ceil(nBlocks / 256)) float32, double quantization only. */
  nested_absmax: tf.Tensor | undefined;
  /** (256) float32 dynamic map, double quantization only. */
  nested_quant_map: tf.Tensor | undefined;
  bias: tf.Variable | undefined; // (out)
  readonly quantType: QuantType;
  readonly blocksize: number;
  readonly computeDtype: ComputeDtype;
  /** torch dtype name of the weight before quantization, saved in the state JSON. */
  readonly dtype: string;
  private readonly nestedMeta: { blocksize: number; offset: number } | undefined;

  constructor(readonly inFeatures: number, readonly outFeatures: number, quantized: Quantized4bit | Packed4bitTensors, options: { bias?: tf.Tensor; computeDtype?: ComputeDtype } = {}) {
    super();
    this.computeDtype = options.computeDtype ?? 'float32';
    this.bias = options.bias ? tf.variable(options.bias, false) : undefined;
    if ('words' in quantized) {
      // Tensors already in tfjs memory (e.g. made on the GPU): taken over as they are, not copied.
      const n = inFeatures * outFeatures;
      const nBlocks = Math.ceil(n / quantized.blocksize);
      if (quantized.words.dtype !== 'int32' || quantized.words.size !== Math.ceil(n / 8) || quantized.absmax.size !== nBlocks || quantized.code.size !== 16) {
        throw new ArgumentError(`Linear4bit: packed tensors for [${outFeatures}, ${inFeatures}] need ${Math.ceil(n / 8)} int32 words, ${nBlocks} absmax values and a 16-entry code; got ${quantized.words.size} (${quantized.words.dtype}), ${quantized.absmax.size}, ${quantized.code.size}.`);
      }
      this.quantType = quantized.quantType;
      this.blocksize = quantized.blocksize;
      this.dtype = quantized.dtype ?? 'bfloat16';
      this.weight = tf.variable(quantized.words, false);
      quantized.words.dispose();
      this.absmax = quantized.absmax;
      this.quant_map = quantized.code;
      this.nested_absmax = undefined;
      this.nested_quant_map = undefined;
      this.nestedMeta = undefined;
      return;
    }
    const { packed, state } = quantized;
    if (state.shape.length !== 2 || state.shape[0] !== outFeatures || state.shape[1] !== inFeatures) {
      throw new ArgumentError(`Linear4bit: quantized weight has shape [${state.shape}], expected [${outFeatures}, ${inFeatures}].`);
    }
    this.quantType = state.quantType;
    this.blocksize = state.blocksize;
    this.dtype = state.dtype;
    const words = bytesToWords(packed);
    const initial = tf.tensor1d(words, 'int32');
    this.weight = tf.variable(initial, false); // tf.variable copies: free the initial value
    initial.dispose();
    this.quant_map = tf.tensor1d(state.code, 'float32');
    if (state.nested) {
      this.absmax = tf.tensor1d(bytesToWords(state.nested.qabsmax), 'int32');
      this.nested_absmax = tf.tensor1d(state.nested.absmax, 'float32');
      this.nested_quant_map = tf.tensor1d(state.nested.code, 'float32');
      this.nestedMeta = { blocksize: state.nested.blocksize, offset: state.nested.offset };
    } else {
      this.absmax = tf.tensor1d(state.absmax!, 'float32');
      this.nested_absmax = undefined;
      this.nested_quant_map = undefined;
      this.nestedMeta = undefined;
    }
  }

  /** Quantizes a (out, in) float weight; the caller keeps ownership of `weight`. */
  static fromLinearWeight(weight: tf.Tensor, options: Linear4bitOptions & { bias?: tf.Tensor } = {}): Linear4bit {
    const [out, inF] = weight.shape;
    const q = quantize4bit(weight, options);
    return new Linear4bit(inF, out, q, { bias: options.bias, computeDtype: options.computeDtype });
  }

  /** True when the absmax values are double-quantized (bitsandbytes' compress_statistics). */
  get doubleQuant(): boolean {
    return this.nestedMeta !== undefined;
  }

  private attrs(transpose: boolean): Dequantize4bitAttrs {
    return {
      shape: [this.outFeatures, this.inFeatures], blocksize: this.blocksize, transpose,
      nested: this.nestedMeta !== undefined, nestedBlocksize: this.nestedMeta?.blocksize ?? 0, offset: this.nestedMeta?.offset ?? 0,
    };
  }

  private inputs(): Dequantize4bitInputs {
    return { packed: this.weight, code: this.quant_map, absmax: this.absmax, nestedAbsmax: this.nested_absmax, nestedCode: this.nested_quant_map };
  }

  /** The float32 weight, (out, in); or its transpose (in, out). Caller disposes. */
  dequantize(transpose = false): tf.Tensor2D {
    return dequantize4bitOp(this.inputs(), this.attrs(transpose)) as tf.Tensor2D;
  }

  /** The weight never trains; a bias may. */
  isFrozen(): boolean {
    return !this.bias?.trainable;
  }

  /** x (N, in) · Wᵀ (+ bias) → (N, out), W dequantized on the fly. No gradient. */
  matmul2d(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const y = this.product(x, false); // (N, out)
      return (this.bias ? tf.add(y, this.bias) : y) as tf.Tensor2D;
    });
  }

  /** dy (N, out) · W → (N, in). */
  inputGradient(dy: tf.Tensor2D): tf.Tensor2D {
    return this.product(dy, true);
  }

  /**
   * x (N, in) · Wᵀ, or with gradInput dy (N, out) · W. A bfloat16 or float16 compute dtype on a backend
   * with the fused kernel (cuda) rounds x and the dequantized weight to it for a GEMM with fp32
   * accumulate, as bitsandbytes does; elsewhere, and for float32, a float32 dequantize + matMul (no
   * rounding to the compute dtype).
   */
  private product(x: tf.Tensor2D, gradInput: boolean): tf.Tensor2D {
    if (this.computeDtype !== 'float32' && hasMatmul4bit()) return matmul4bitOp(x, this.inputs(), this.attrs(false), gradInput, this.computeDtype);
    return tf.tidy(() => tf.matMul(x, this.dequantize(!gradInput))); // (N, in) · (in, out) or (N, out) · (out, in)
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const x2 = unkept.reshape<tf.Rank.R2>(x, [-1, this.inFeatures]); // (N, in); tf.reshape would keep x for the backward pass
      const matmul = customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
        value: this.product(args[0] as tf.Tensor2D, false), // (N, out)
        gradFunc: (dy: tf.Tensor) => this.product(dy as tf.Tensor2D, true), // (N, in)
      }));
      let y = matmul(x2) as tf.Tensor; // (N, out)
      if (this.bias) y = tf.add(y, this.bias);
      return unkept.reshape(y, [...lead, this.outFeatures]);
    });
  }

  /** torch's extra_repr, plus the 4-bit format. */
  extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias ? 'True' : 'False'}, quant_type=${this.quantType}, blocksize=${this.blocksize}, double_quant=${this.doubleQuant ? 'True' : 'False'}`;
  }

  [displaySymbol](): MimeBundle {
    return { 'text/plain': `Linear4bit(${this.extraRepr()})` };
  }

  /** Number of weights as PEFT counts a packed 4-bit parameter (numel · 2 of the uint8 bytes). */
  numWeights(): number {
    return this.inFeatures * this.outFeatures;
  }

  /** The packed bytes and state, read back from tfjs memory. */
  toQuantized(): Quantized4bit {
    const n = this.inFeatures * this.outFeatures;
    const packed = wordsToBytes(this.weight.dataSync() as Int32Array, Math.ceil(n / 2));
    const code = this.quant_map.dataSync() as Float32Array;
    const state: Quantized4bit['state'] = { quantType: this.quantType, blocksize: this.blocksize, shape: [this.outFeatures, this.inFeatures], dtype: this.dtype, code: code.slice() };
    if (this.nestedMeta) {
      const nBlocks = Math.ceil(n / this.blocksize);
      state.nested = {
        qabsmax: wordsToBytes(this.absmax.dataSync() as Int32Array, nBlocks),
        absmax: (this.nested_absmax!.dataSync() as Float32Array).slice(),
        code: (this.nested_quant_map!.dataSync() as Float32Array).slice(),
        ...this.nestedMeta,
      };
    } else {
      state.absmax = (this.absmax.dataSync() as Float32Array).slice();
    }
    return { packed, state };
  }

  /** bitsandbytes' state-dict entries of this layer, keys relative to it (`weight`, `weight.absmax`, …, `bias`). */
  stateDict(): Map<string, RawTensor> {
    const out = quantStateToDict(this.toQuantized());
    if (this.bias) {
      const b = this.bias.dataSync() as Float32Array;
      out.set('bias', { dtype: 'F32', shape: [b.length], data: new Uint8Array(b.slice().buffer) });
    }
    return out;
  }
}
