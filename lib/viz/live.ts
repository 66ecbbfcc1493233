/**
 * A Trainer callback that draws the loss curve while training runs: one display, replaced with
 * update_display_data as logs arrive (at most one update per `throttleMs`, and always the final
 * state at the end). Outside a notebook it prints a line per update instead.
 */
import { currentSink, publish } from '../display';
import type { TrainerCallback, TrainerState, LogEntry } from '../train/state';
import type { TrainingArguments } from '../train/training_args';
import { lossCurve } from './charts';
import type { Figure } from './figure';

export interface LiveLossPlotOptions {
  /** Fewest milliseconds between two updates (default 1000). */
  throttleMs?: number;
  title?: string;
  displayId?: string;
  /** Clock (tests pass a fake one). */
  now?: () => number;
}

let nextId = 0;

export interface LiveLossPlot extends TrainerCallback {
  readonly displayId: string;
  /** The figure as last published. */
  figure(): Figure;
  /** How many times the display was shown or updated. */
  readonly updates: number;
}

/** `new Trainer({ ..., callbacks: [liveLossPlot()] })`. */
export function liveLossPlot(options: LiveLossPlotOptions = {}): LiveLossPlot {
  const throttleMs = options.throttleMs ?? 1000;
  const now = options.now ?? (() => performance.now());
  const displayId = options.displayId ?? `qlora-ts-loss-${process.pid}-${nextId++}`;
  /** What this callback saw, for trainers whose state keeps no log history. */
  const seen: LogEntry[] = [];
  let latest: TrainerState | undefined;
  let shown = false;
  let last = -Infinity;
  let pending = false;
  let updates = 0;

  const entries = (): LogEntry[] => (latest && latest.logHistory.length > 0 ? latest.logHistory : seen);
  const figure = (): Figure => {
    const step = latest?.globalStep ?? entries().at(-1)?.step ?? 0;
    const max = latest?.maxSteps;
    return lossCurve(entries(), { title: `${options.title ?? 'Training loss'} — step ${step}${max ? ` / ${max}` : ''}` });
  };
  const flush = (): void => {
    const fig = figure();
    if (currentSink()) {
      // The first figure may carry plotly.js inline; updates replace the same display.
      publish(fig.bundle(), { displayId, update: shown });
    } else {
      const list = entries();
      const loss = list.findLast((e) => typeof e.loss === 'number');
      const evalLoss = list.findLast((e) => typeof e.eval_loss === 'number');
      if (loss || evalLoss) {
        console.log(`[loss] step ${latest?.globalStep ?? list.at(-1)?.step}` +
          (loss ? `  train ${loss.loss.toFixed(4)}` : '') + (evalLoss ? `  eval ${evalLoss.eval_loss.toFixed(4)}` : ''));
      }
    }
    shown = true;
    pending = false;
    last = now();
    updates++;
  };
  const record = (state: TrainerState, entry: LogEntry): void => {
    latest = state;
    seen.push({ ...entry, step: entry.step ?? state.globalStep });
    pending = true;
    if (now() - last >= throttleMs) flush();
  };

  return {
    displayId,
    get updates() { return updates; },
    figure,
    onTrainBegin(_args: TrainingArguments, state: TrainerState) {
      latest = state;
      flush();
    },
    onLog(_args: TrainingArguments, state: TrainerState, logs: LogEntry) {
      record(state, logs);
    },
    onEvaluate(_args: TrainingArguments, state: TrainerState, metrics: LogEntry) {
      // transformers logs eval metrics through on_log too; record them once.
      if (!seen.some((e) => e.eval_loss === metrics.eval_loss && e.step === (metrics.step ?? state.globalStep))) record(state, metrics);
    },
    onTrainEnd(_args: TrainingArguments, state: TrainerState) {
      latest = state;
      if (pending || !shown) flush();
    },
  };
}
