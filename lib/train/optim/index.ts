import type * as tf from '@tensorflow/tfjs-core';
import type { TrainingArguments } from '../training_args';
import { AdamW } from './adamw';
import { AdamW8bit } from './adamw_8bit';
import type { Optimizer } from './optimizer';

export { AdamW } from './adamw';
export { AdamW8bit, quantizeNearest, type AdamW8bitOptions } from './adamw_8bit';
export { clipGradNorm } from './clip';
export type { Optimizer, OptimizerState, AdamWOptions } from './optimizer';

/** transformers' get_decay_parameter_names: everything but biases and normalization weights. */
export function decaysWeight(name: string): boolean {
  return !/bias$/.test(name) && !/norm/i.test(name);
}

/** The optimizer `args.optim` names, over named trainable parameters. */
export function createOptimizer(args: TrainingArguments, named: Array<[string, tf.Variable]>): Optimizer {
  const params = named.map(([, p]) => p);
  const options = {
    lr: args.learningRate,
    betas: [args.adamBeta1, args.adamBeta2] as [number, number],
    eps: args.adamEpsilon,
    weightDecay: args.weightDecay,
    decay: named.map(([n]) => decaysWeight(n)),
  };
  return args.optim.endsWith('8bit') ? new AdamW8bit(params, options) : new AdamW(params, options);
}
