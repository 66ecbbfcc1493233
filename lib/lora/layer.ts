import * as tf from '@tensorflow/tfjs-core';
import { customGrad } from '../nn/custom_grad';
import { Module } from '../nn/module';
import { frozenLinear, Linear, type FrozenLinear, type LinearLike } from '../nn/linear';
import { mixSeed } from '../nn/seed';
import { dropout } from '../nn/dropout';
import { matMulAcc } from '../nn/matmul_acc';
import type { InitLoraWeights } from './config';
import { ArgumentError, show } from '../errors';
import { swiglu, swigluGrad, type SwigluInputLinear } from '../nn/swiglu';

/** One call's dropout on the adapter's input: its rate and the seed that draws (and redraws) its mask. */
interface AdapterDropout {
  rate: number;
  seed: number;
}

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
export class LoraLinear extends Module implements LinearLike, SwigluInputLinear {
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
    const base = this.fusableBase();
    if (base) return this.fusedForward(x, base);
    return tf.tidy(() => {
      const y = this.base_layer.forward(x);
      const drop = this.nextDropout();
      const dropped = drop ? dropout(x, drop.rate, drop.seed) : x;
      const delta = this.loraB.forward(this.loraA.forward(dropped)); // (..., out)
      return tf.add(y, tf.mul(delta, this.scaling));
    });
  }

  /** The frozen base layer when the adapter can run as one op (no adapter bias). */
  private fusableBase(): FrozenLinear | undefined {
    const base = frozenLinear(this.base_layer);
    return base && !this.loraA.bias && !this.loraB.bias ? base : undefined;
  }

  /**
   * This call's dropout on the adapter's input, or undefined when none (evaluation, rate 0). Each
   * call draws the next seed, as the unfused path does, so checkpointed layers replay the masks.
   */
  private nextDropout(): AdapterDropout | undefined {
    return this.training && this.loraDropout > 0 ? { rate: this.loraDropout, seed: mixSeed(this.seed, 3, this.dropoutCalls++) } : undefined;
  }

  /**
   * The same y = base(x) + (d(x)·Aᵀ)·Bᵀ · scaling as one custom-gradient op over a frozen base, d
   * being the adapter's dropout (the identity without one): the tape records one node instead of
   * about twenty (reshapes, matmuls, the scaling and the sum, each with copies of its inputs kept),
   * and only x is kept for the backward pass, which gives dx = base′(dy) + d(s·(dy·B)·A),
   * dA = s·(dy·B)ᵀ·d(x) and dB = s·dyᵀ·(d(x)·Aᵀ). Dropout's mask depends only on its seed, so the
   * backward pass redraws d(x) from x, and d's gradient is d itself.
   */
  private fusedForward(x: tf.Tensor, base: FrozenLinear): tf.Tensor {
    const drop = this.nextDropout();
    const f = customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [xIn, a, b, save] = args as [tf.Tensor, tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
      const x2 = tf.reshape(xIn, [-1, this.inFeatures]) as tf.Tensor2D; // (N, in)
      save([x2]);
      return {
        value: tf.reshape(this.fusedProduct(x2, a, b, base, drop), [...xIn.shape.slice(0, -1), this.outFeatures]),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
          const [dx, dA, dB] = this.fusedBackward(saved[0] as tf.Tensor2D, dy, a, b, base, false, drop);
          return [tf.reshape(dx, xIn.shape), dA, dB];
        }),
      };
    });
    return f(x, this.loraA.weight, this.loraB.weight);
  }

  /**
   * forward(swiglu(g, u)) for the MLP's down projection (SwigluInputLinear), as one op that keeps g
   * and u instead of their product: the backward pass recomputes silu(g)·u, takes the adapter's
   * gradients and dx as fusedForward does, then dg and du through swiglu's gradient. The
   * (N, intermediate) product is then not held from the forward to the backward pass.
   */
  forwardSwiglu(g: tf.Tensor, u: tf.Tensor): tf.Tensor | undefined {
    const base = this.disabled ? undefined : this.fusableBase();
    if (!base) return undefined;
    if (g.shape.join(',') !== u.shape.join(',') || g.shape[g.rank - 1] !== this.inFeatures) {
      throw new ArgumentError(`LoraLinear.forwardSwiglu: gate ${show(g.shape)} and up ${show(u.shape)} must have one shape ending in in_features ${this.inFeatures}`);
    }
    const drop = this.nextDropout();
    const f = customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [gIn, uIn, a, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
      save([gIn, uIn]);
      const x2 = tf.reshape(swiglu(gIn, uIn), [-1, this.inFeatures]) as tf.Tensor2D; // (N, in)
      return {
        value: tf.reshape(this.fusedProduct(x2, a, b, base, drop), [...gIn.shape.slice(0, -1), this.outFeatures]),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
          const [gs, us] = saved;
          const act = swiglu(gs, us); // recomputed
          const xs = tf.reshape(act, [-1, this.inFeatures]) as tf.Tensor2D; // (N, in)
          act.dispose(); // xs holds the buffer, which fusedBackward frees before dx is made
          const [dx, dA, dB] = this.fusedBackward(xs, dy, a, b, base, true, drop);
          return [...swigluGrad(gs, us, tf.reshape(dx, gs.shape)), dA, dB];
        }),
      };
    });
    return f(g, u, this.loraA.weight, this.loraB.weight);
  }

  /** x2 (N, in) → base(x2) + s·(d(x2)·Aᵀ)·Bᵀ (N, out), the scaling and the sum inside one GEMM; d the dropout. */
  private fusedProduct(x2: tf.Tensor2D, a: tf.Tensor2D, b: tf.Tensor2D, base: FrozenLinear, drop?: AdapterDropout): tf.Tensor2D {
    const xd = drop ? dropout(x2, drop.rate, drop.seed) : x2;
    const xa = tf.matMul(xd, a, false, true) as tf.Tensor2D; // (N, r)
    if (xd !== x2) xd.dispose();
    return matMulAcc(xa, b, false, true, this.scaling, base.matmul2d(x2)); // (N, out)
  }

  /**
   * [dx (N, in), dA, dB] from the op's input x2 (N, in) and dy (..., out); with `releaseInput`, x2
   * is disposed as soon as dA and dB have it (a recomputed input, before dx is made). With dropout
   * d, its mask is redrawn from the seed: d(x2) for dA and dB, d(s·(dy·B)·A) for dx.
   */
  private fusedBackward(x2: tf.Tensor2D, dy: tf.Tensor, a: tf.Tensor2D, b: tf.Tensor2D, base: FrozenLinear, releaseInput: boolean, drop?: AdapterDropout): [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D] {
    const s = this.scaling;
    const dy2 = tf.reshape(dy, [-1, this.outFeatures]) as tf.Tensor2D; // (N, out)
    const g = matMulAcc(dy2, b, false, false, s); // (N, r): s · dy·B
    const xd = drop ? dropout(x2, drop.rate, drop.seed) as tf.Tensor2D : x2;
    const dA = tf.matMul(g, xd, true, false) as tf.Tensor2D; // (r, in)
    const dB = matMulAcc(dy2, tf.matMul(xd, a, false, true) as tf.Tensor2D, true, false, s); // (out, r)
    if (xd !== x2) xd.dispose();
    if (releaseInput) x2.dispose();
    if (!drop) return [matMulAcc(g, a, false, false, 1, base.inputGradient(dy2)), dA, dB]; // (N, in)
    const ga = tf.matMul(g, a) as tf.Tensor2D; // (N, in)
    const dga = dropout(ga, drop.rate, drop.seed);
    ga.dispose();
    const baseGrad = base.inputGradient(dy2);
    const dx = tf.add(baseGrad, dga) as tf.Tensor2D;
    tf.dispose([baseGrad, dga]);
    return [dx, dA, dB];
  }

  /** scaling · B·A, the (out, in) weight update that merging adds. Caller disposes. */
  deltaWeight(): tf.Tensor2D {
    return tf.tidy(() => tf.mul(tf.matMul(this.loraB.weight, this.loraA.weight), this.scaling) as tf.Tensor2D);
  }
}
