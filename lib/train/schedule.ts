import { ConfigError, show } from '../errors';
import type { SchedulerType } from './training_args';

/**
 * transformers' get_scheduler as a multiplier of the base learning rate per optimizer step
 * (torch's LambdaLR): optimizer step k (0-based) runs at lr · lambda(k). With warmup the first
 * step therefore runs at lr 0, as in transformers.
 */
export function lrLambda(type: SchedulerType, numWarmupSteps: number, numTrainingSteps: number): (step: number) => number {
  const W = numWarmupSteps;
  const T = numTrainingSteps;
  const warm = (step: number) => step / Math.max(1, W);
  switch (type) {
    case 'constant':
      return () => 1;
    case 'constant_with_warmup':
      return (step) => (step < W ? warm(step) : 1);
    case 'linear':
      return (step) => (step < W ? warm(step) : Math.max(0, (T - step) / Math.max(1, T - W)));
    case 'cosine':
      return (step) => {
        if (step < W) return warm(step);
        const progress = (step - W) / Math.max(1, T - W);
        return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 0.5 * 2 * progress)));
      };
    default:
      throw new ConfigError(`\`lr_scheduler_type\` should be one of 'constant', 'constant_with_warmup', 'linear', 'cosine' but the value passed is ${show(type)}`);
  }
}

/** torch's LambdaLR reduced to what a checkpoint needs: the step count and the base rate. */
export class LRScheduler {
  /** Scheduler steps taken (torch's last_epoch). */
  lastEpoch = 0;
  private readonly lambda: (step: number) => number;

  constructor(readonly baseLr: number, readonly type: SchedulerType, readonly numWarmupSteps: number, readonly numTrainingSteps: number) {
    this.lambda = lrLambda(type, numWarmupSteps, numTrainingSteps);
  }

  /** The learning rate of the next optimizer step (torch's get_last_lr()[0]). */
  get lr(): number {
    return this.baseLr * this.lambda(this.lastEpoch);
  }

  step(): void {
    this.lastEpoch++;
  }

  /** scheduler.json: torch's LambdaLR state_dict fields (the lambda itself is rebuilt from the args). */
  stateDict(): Record<string, unknown> {
    return { last_epoch: this.lastEpoch, base_lrs: [this.baseLr], _last_lr: [this.lr], _step_count: this.lastEpoch + 1, lr_scheduler_type: this.type, num_warmup_steps: this.numWarmupSteps, num_training_steps: this.numTrainingSteps };
  }

  loadStateDict(state: Record<string, unknown>): void {
    const e = state.last_epoch;
    if (typeof e !== 'number' || !Number.isInteger(e) || e < 0) throw new ConfigError(`scheduler.json: \`last_epoch\` should be an integer ≥ 0 but the value passed is ${show(e)}`);
    this.lastEpoch = e;
  }
}
