import type * as tf from '@tensorflow/tfjs-core';
import type { RawTensor } from '../../model/safetensors';

/** Hyper-parameters shared by the AdamW variants (torch's param_groups[0]). */
export interface AdamWOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** Per parameter: false exempts it from weight decay (biases and norm weights, as transformers does). */
  decay?: boolean[];
}

/** What a checkpoint keeps of an optimizer: tensors for optimizer.safetensors plus JSON metadata. */
export interface OptimizerState {
  tensors: Map<string, RawTensor>;
  meta: Record<string, unknown>;
}

/** The optimizer interface the Trainer drives: one update of every parameter from its gradient. */
export interface Optimizer {
  readonly params: tf.Variable[];
  /** Optimizer steps taken so far (torch's state['step']). */
  readonly stepCount: number;
  /** Applies one update at learning rate `lr`; `grads[i]` belongs to `params[i]`. Leaves no tensors behind. */
  step(grads: tf.Tensor[], lr: number): void;
  stateDict(): Promise<OptimizerState>;
  loadStateDict(state: OptimizerState, where: string): void;
  /** Bytes the optimizer state holds (both moments, quantized or not). */
  stateBytes(): number;
  dispose(): void;
}

/** torch's param_groups entry for the metadata. */
export function paramGroupJSON(o: AdamWOptions, n: number): Record<string, unknown> {
  return { lr: o.lr, betas: o.betas, eps: o.eps, weight_decay: o.weightDecay, params: Array.from({ length: n }, (_, i) => i) };
}
