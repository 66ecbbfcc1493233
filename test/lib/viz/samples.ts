import { mulberry32 } from '../../../lib/random';

/** A deterministic log history like the Trainer's: loss every 5 steps, eval every 10, linear lr decay. */
export function sampleLogHistory(steps = 40): Record<string, number>[] {
  const random = mulberry32(7);
  const out: Record<string, number>[] = [];
  for (let step = 5; step <= steps; step += 5) {
    out.push({ loss: 2.5 * Math.exp(-step / 15) + 0.6 + 0.1 * random(), grad_norm: 1 + random(), learning_rate: 2e-4 * (1 - (step - 1) / steps),
      epoch: step / 100, step });
    if (step % 10 === 0) out.push({ eval_loss: 2.4 * Math.exp(-step / 18) + 0.75, eval_runtime: 1.5, epoch: step / 100, step });
  }
  return out;
}

