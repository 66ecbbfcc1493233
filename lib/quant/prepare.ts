import { Module } from '../nn/module';
import type { GradientCheckpointingKwargs } from '../model/llama';

export interface PrepareForKbitOptions {
  /** Turns on the model's gradient checkpointing (recompute each layer in the backward pass). */
  useGradientCheckpointing?: boolean;
  /** Passed to gradientCheckpointingEnable: `{ layers: n }` recomputes only the first n decoder layers. */
  gradientCheckpointingKwargs?: GradientCheckpointingKwargs;
}

/**
 * PEFT's `prepare_model_for_kbit_training`: freezes every base parameter, keeps norms (and every
 * other non-quantized parameter) in float32, and enables gradient checkpointing. tfjs parameters
 * are float32 already, so the cast is a check; the model is changed in place and returned.
 */
export function prepareModelForKbitTraining<M extends Module>(model: M, options: PrepareForKbitOptions = {}): M {
  const useGradientCheckpointing = options.useGradientCheckpointing ?? true;
  for (const [, p] of model.namedParameters()) {
    p.trainable = false;
  }
  const m = model as unknown as { gradientCheckpointingEnable?: (kwargs?: GradientCheckpointingKwargs) => void };
  if (useGradientCheckpointing && typeof m.gradientCheckpointingEnable === 'function') m.gradientCheckpointingEnable(options.gradientCheckpointingKwargs);
  return model;
}
