import * as tf from '@tensorflow/tfjs-core';
import { customGrad } from './custom_grad';
import { ArgumentError, show } from '../errors';
import { Module } from './module';

/**
 * Row lookup `weight[ids]` with a gradient that runs on every backend: tfjs's Gather gradient
 * needs UnsortedSegmentSum, which the wasm backend lacks, so there the gradient is
 * oneHot(ids)ᵀ · dy (a matmul) instead.
 */
export function embeddingLookup(weight: tf.Tensor2D, ids: tf.Tensor): tf.Tensor {
  if (ids.dtype !== 'int32') throw new ArgumentError(`embeddingLookup: \`ids\` must be int32, got ${show(ids.dtype)}`);
  const [vocab, dim] = weight.shape;
  const lookup = customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [w, i, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([i]);
    const flat = tf.reshape(i, [-1]); // (N)
    const out = tf.reshape(tf.gather(w, flat), [...i.shape, dim]); // (..., dim)
    return {
      value: out,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const idsFlat = tf.reshape(saved[0], [-1]) as tf.Tensor1D; // (N)
        const dy2 = tf.reshape(dy, [-1, dim]); // (N, dim)
        const dw = tf.getKernel('UnsortedSegmentSum', tf.getBackend())
          ? tf.unsortedSegmentSum(dy2, idsFlat, vocab)
          : tf.matMul(tf.oneHot(idsFlat, vocab), dy2, true, false); // (vocab, dim)
        return [dw, tf.zerosLike(saved[0])];
      },
    };
  });
  return lookup(weight, ids);
}

/** torch.nn.Embedding: `weight` (numEmbeddings, embeddingDim). */
export class Embedding extends Module {
  weight: tf.Variable; // (vocab, dim)

  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, options: { weight?: tf.Tensor; trainable?: boolean } = {}) {
    super();
    const w = options.weight ?? tf.zeros([numEmbeddings, embeddingDim]);
    if (w.shape[0] !== numEmbeddings || w.shape[1] !== embeddingDim) {
      throw new ArgumentError(`Embedding: \`weight\` has shape ${show(w.shape)}, expected [${numEmbeddings}, ${embeddingDim}]`);
    }
    this.weight = tf.variable(w, options.trainable ?? true);
  }

  extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}`;
  }

  forward(ids: tf.Tensor): tf.Tensor {
    return embeddingLookup(this.weight as tf.Tensor2D, ids);
  }
}
