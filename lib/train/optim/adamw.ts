import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError, show } from '../../errors';
import { decodeRaw, encodeRaw } from '../../model/safetensors';
import { paramGroupJSON, type AdamWOptions, type Optimizer, type OptimizerState } from './optimizer';
import { backendHasKernels } from '../../backend/kernel_registry';

/**
 * Name of the fused AdamW kernel a backend may register (the cuda backend does): {p, g, m, v} with
 * attrs lr, beta1, beta2, eps, decay (1 − lr·wd or 1), stepSize (lr / bc1), bc2Sqrt → [p', m', v'].
 */
export const FUSED_ADAMW = 'QloraAdamW';

/**
 * torch.optim.AdamW (single-tensor path): decoupled weight decay p ← p·(1 − lr·wd), moments
 * m ← lerp(m, g, 1 − β1), v ← β2·v + (1 − β2)·g², then p ← p − lr/(1 − β1^t) · m / (√v/√(1 − β2^t) + ε).
 * The moments are float32 tensors shaped like their parameter.
 */
export class AdamW implements Optimizer {
  stepCount = 0;
  private m: tf.Tensor[];
  private v: tf.Tensor[];

  constructor(readonly params: tf.Variable[], readonly options: AdamWOptions) {
    this.m = params.map((p) => tf.zerosLike(p));
    this.v = params.map((p) => tf.zerosLike(p));
  }

  step(grads: tf.Tensor[], lr: number): void {
    const { betas: [b1, b2], eps, weightDecay: wd, decay } = this.options;
    this.stepCount++;
    const bc1 = 1 - b1 ** this.stepCount;
    const bc2Sqrt = Math.sqrt(1 - b2 ** this.stepCount);
    const fused = backendHasKernels(FUSED_ADAMW);
    this.params.forEach((p, i) => {
      const decays = wd > 0 && (decay?.[i] ?? true);
      const [next, m, v] = fused
        ? tf.engine().runKernel(FUSED_ADAMW, { p, g: grads[i], m: this.m[i], v: this.v[i] },
          { lr, beta1: b1, beta2: b2, eps, decay: decays ? 1 - lr * wd : 1, stepSize: lr / bc1, bc2Sqrt }) as tf.Tensor[]
        : tf.tidy(() => {
          const g = grads[i];
          const m = tf.add(this.m[i], tf.mul(tf.sub(g, this.m[i]), 1 - b1));
          const v = tf.add(tf.mul(this.v[i], b2), tf.mul(tf.square(g), 1 - b2));
          const denom = tf.add(tf.div(tf.sqrt(v), bc2Sqrt), eps);
          const decayed = decays ? tf.mul(p, 1 - lr * wd) : p;
          return [tf.sub(decayed, tf.mul(tf.div(m, denom), lr / bc1)), m, v];
        });
      p.assign(next);
      tf.dispose([next, this.m[i], this.v[i]]);
      this.m[i] = m;
      this.v[i] = v;
    });
  }

  async stateDict(): Promise<OptimizerState> {
    const tensors = new Map();
    for (let i = 0; i < this.params.length; i++) {
      tensors.set(`state.${i}.exp_avg`, { dtype: 'F32', shape: [...this.params[i].shape], data: encodeRaw(await this.m[i].data() as Float32Array, 'F32') });
      tensors.set(`state.${i}.exp_avg_sq`, { dtype: 'F32', shape: [...this.params[i].shape], data: encodeRaw(await this.v[i].data() as Float32Array, 'F32') });
    }
    return { tensors, meta: { optimizer: 'adamw_torch', step: this.stepCount, param_groups: [paramGroupJSON(this.options, this.params.length)] } };
  }

  loadStateDict(state: OptimizerState, where: string): void {
    if (state.meta.optimizer !== 'adamw_torch') throw new CheckpointError(`${where}: optimizer state is ${show(state.meta.optimizer)}, but this run uses 'adamw_torch'`, 'resume with the same `optim` the checkpoint was trained with');
    const m: tf.Tensor[] = [];
    const v: tf.Tensor[] = [];
    this.params.forEach((p, i) => {
      for (const [key, out] of [[`state.${i}.exp_avg`, m], [`state.${i}.exp_avg_sq`, v]] as const) {
        const raw = state.tensors.get(key);
        if (!raw || raw.shape.join(',') !== p.shape.join(',')) {
          tf.dispose([...m, ...v]);
          throw new CheckpointError(`${where}: '${key}' is ${raw ? `shaped ${show(raw.shape)}` : 'missing'}, but parameter ${i} has shape ${show(p.shape)}`, 'the checkpoint was written for other trainable parameters (another LoRA config or model)');
        }
        out.push(tf.tensor(decodeRaw(raw, `${where}: ${key}`) as Float32Array, raw.shape, 'float32'));
      }
    });
    tf.dispose([...this.m, ...this.v]);
    this.m = m;
    this.v = v;
    this.stepCount = Number(state.meta.step);
  }

  stateBytes(): number {
    return this.params.reduce((n, p) => n + 8 * p.size, 0);
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
    this.m = [];
    this.v = [];
  }
}
