import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../nn/module';
import { frozenLinear, Linear, type FrozenLinear, type LinearLike } from '../nn/linear';
import { mixSeed } from '../nn/seed';
import { matMulAcc } from '../nn/matmul_acc';
import type { InitLoraWeights } from './config';

/** PEFT's ModuleDict of adapters: one module per adapter name (`lora_A.default.weight`); qlora-ts has one, 'default'. */
export class ModuleDict<T extends Module = Linear> extends Module {
  constructor(public default_: T) {
    super();
  }
  override namedChildren(): Array<[string, Module]> {
    return [['default', this.default_]];
  }
}

export interface LoraLinearOptions {
  r: number;
  loraAlpha: number;
  loraDropout: number;
  useRslora: boolean;
  initLoraWeights: InitLoraWeights;
  /** Seeds lora_A's (and with initLoraWeights false, lora_B's) initialisation and the dropout masks. */
  seed: number;
}

/**
 * A linear layer with a LoRA adapter (PEFT's lora.Linear): y = base(x) + B(A(dropout(x))) · scaling.
 * `base_layer` is any LinearLike (a Linear or a Linear4bit) and stays frozen; lora_A (r, in) starts
 * kaiming-uniform (a = √5), lora_B (out, r) at zero, so the adapter starts as the identity.
 */
export class LoraLinear extends Module implements LinearLike {
  base_layer: LinearLike;
  lora_A: ModuleDict;
  lora_B: ModuleDict;
  readonly r: number;
  readonly loraAlpha: number;
  readonly scaling: number;
  readonly loraDropout: number;
  /** True while adapters are disabled: forward is the base layer's. */
  disabled = false;
  private readonly seed: number;
  private dropoutCalls = 0;

  constructor(base: LinearLike, options: LoraLinearOptions) {
    super();
    this.base_layer = base;
    this.r = options.r;
    this.loraAlpha = options.loraAlpha;
    this.scaling = options.useRslora ? options.loraAlpha / Math.sqrt(options.r) : options.loraAlpha / options.r;
    this.loraDropout = options.loraDropout;
    this.seed = options.seed;
    const { inFeatures, outFeatures } = base;
    const kaiming = (shape: [number, number], seed: number) => tf.randomUniform(shape, -1 / Math.sqrt(shape[1]), 1 / Math.sqrt(shape[1]), 'float32', seed);
    const seedA = mixSeed(options.seed, 1);
    const a = options.initLoraWeights === 'gaussian' ? tf.randomNormal([options.r, inFeatures], 0, 1 / options.r, 'float32', seedA) : kaiming([options.r, inFeatures], seedA); // (r, in)
    const b = options.initLoraWeights === false ? kaiming([outFeatures, options.r], mixSeed(options.seed, 2)) : tf.zeros([outFeatures, options.r]); // (out, r)
    this.lora_A = new ModuleDict(new Linear(inFeatures, options.r, { weight: a }));
    this.lora_B = new ModuleDict(new Linear(options.r, outFeatures, { weight: b }));
    tf.dispose([a, b]);
  }

  /** Module printout: the children say it all, as PEFT's lora.Linear prints. */
  extraRepr(): string {
    return '';
  }

  /** Dropout RNG position, so gradient checkpointing replays the same masks in the backward pass. */
  getRngState(): number {
    return this.dropoutCalls;
  }

  setRngState(state: unknown): void {
    this.dropoutCalls = state as number;
  }

  get inFeatures(): number {
    return this.base_layer.inFeatures;
  }

  get outFeatures(): number {
    return this.base_layer.outFeatures;
  }

  get loraA(): Linear {
    return this.lora_A.default_;
  }

  get loraB(): Linear {
    return this.lora_B.default_;
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (this.disabled) return this.base_layer.forward(x);
    const base = frozenLinear(this.base_layer);
    const dropout = this.training && this.loraDropout > 0;
    if (base && !dropout && !this.loraA.bias && !this.loraB.bias) return this.fusedForward(x, base);
    return tf.tidy(() => {
      const y = this.base_layer.forward(x);
      const dropped = this.training && this.loraDropout > 0 ? tf.dropout(x, this.loraDropout, undefined, mixSeed(this.seed, 3, this.dropoutCalls++)) : x;
      const delta = this.loraB.forward(this.loraA.forward(dropped)); // (..., out)
      return tf.add(y, tf.mul(delta, this.scaling));
    });
  }

  /**
   * The same y = base(x) + (x·Aᵀ)·Bᵀ · scaling as one custom-gradient op over a frozen base
   * (no dropout): the tape records one node instead of about twenty (reshapes, matmuls, the scaling
   * and the sum, each with copies of its inputs kept), and only x is kept for the backward pass,
   * which gives dx = base′(dy) + s·(dy·B)·A, dA = s·(dy·B)ᵀ·x and dB = s·dyᵀ·(x·Aᵀ).
   */
  private fusedForward(x: tf.Tensor, base: FrozenLinear): tf.Tensor {
    const s = this.scaling;
    const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [xIn, a, b, save] = args as [tf.Tensor, tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
      const x2 = tf.reshape(xIn, [-1, this.inFeatures]) as tf.Tensor2D; // (N, in)
      save([x2]);
      const xa = tf.matMul(x2, a, false, true) as tf.Tensor2D; // (N, r)
      const y = matMulAcc(xa, b, false, true, s, base.matmul2d(x2)); // (N, out): base + s·xa·Bᵀ
      return {
        value: tf.reshape(y, [...xIn.shape.slice(0, -1), this.outFeatures]),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
          const xs = saved[0] as tf.Tensor2D; // (N, in)
          const dy2 = tf.reshape(dy, [-1, this.outFeatures]) as tf.Tensor2D; // (N, out)
          const g = matMulAcc(dy2, b, false, false, s); // (N, r): s · dy·B
          const dx = matMulAcc(g, a, false, false, 1, base.inputGradient(dy2)); // (N, in)
          const dA = tf.matMul(g, xs, true, false); // (r, in)
          const dB = matMulAcc(dy2, tf.matMul(xs, a, false, true) as tf.Tensor2D, true, false, s); // (out, r)
          return [tf.reshape(dx, xIn.shape), dA, dB];
        }),
      };
    });
    return f(x, this.loraA.weight, this.loraB.weight);
  }

  /** scaling · B·A, the (out, in) weight update that merging adds. Caller disposes. */
  deltaWeight(): tf.Tensor2D {
    return tf.tidy(() => tf.mul(tf.matMul(this.loraB.weight, this.loraA.weight), this.scaling) as tf.Tensor2D);
  }
}
