import { currentSink, publish } from '../display';
import type { LogEntry, TrainerCallback, TrainerState } from './state';
import type { TrainingArguments } from './training_args';

/** A number as transformers 5 prints it in a log line: 4 significant digits. */
function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(4)));
}

/** transformers' PrinterCallback: each log as one line, `{'loss': '6.163', 'grad_norm': '2.786', …}`. */
export class PrinterCallback implements TrainerCallback {
  onLog(_args: TrainingArguments, _state: TrainerState, logs: LogEntry): void {
    const shown = Object.entries(logs).filter(([k]) => k !== 'step' && k !== 'total_flos');
    console.log(`{${shown.map(([k, v]) => `'${k}': '${fmt(v)}'`).join(', ')}}`);
  }
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/**
 * transformers' NotebookProgressCallback: in a notebook, one display updated in place — a progress
 * line (`[12/30 00:05 < 00:10, Epoch 1.20/5]`) and a table of Step | Training Loss | Validation Loss.
 */
export class NotebookProgressCallback implements TrainerCallback {
  private readonly displayId = `qlora-train-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  private rows: Array<{ step: number; loss?: number; evalLoss?: number }> = [];
  private start = 0;
  private shown = false;
  private lastDraw = 0;

  onTrainBegin(): void {
    this.start = performance.now();
    this.rows = [];
  }

  onStepEnd(args: TrainingArguments, state: TrainerState): void {
    if (performance.now() - this.lastDraw > 500 || state.globalStep === state.maxSteps) this.draw(state);
  }

  onLog(_args: TrainingArguments, state: TrainerState, logs: LogEntry): void {
    if ('loss' in logs) this.rows.push({ step: state.globalStep, loss: logs.loss });
    else if ('eval_loss' in logs) {
      const last = this.rows.at(-1);
      if (last && last.step === state.globalStep) last.evalLoss = logs.eval_loss;
      else this.rows.push({ step: state.globalStep, evalLoss: logs.eval_loss });
    } else return;
    this.draw(state);
  }

  onTrainEnd(_args: TrainingArguments, state: TrainerState): void {
    this.draw(state);
  }

  private draw(state: TrainerState): void {
    this.lastDraw = performance.now();
    const elapsed = (this.lastDraw - this.start) / 1000;
    const left = state.globalStep > 0 ? (elapsed / state.globalStep) * (state.maxSteps - state.globalStep) : 0;
    const clock = (s: number) => `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
    const status = `[${state.globalStep}/${state.maxSteps} ${clock(elapsed)} < ${clock(left)}, Epoch ${state.epoch.toFixed(2)}/${state.numTrainEpochs}]${state.interrupted ? ' interrupted' : ''}`;
    const cell = (x?: number) => (x === undefined ? 'No log' : x.toFixed(6));
    const pct = state.maxSteps ? (100 * state.globalStep) / state.maxSteps : 0;
    const html = `<div><progress value="${state.globalStep}" max="${state.maxSteps}" style="width:300px; height:20px; vertical-align: middle;"></progress> ${escape(status)}</div>` +
      `<table border="1" class="dataframe"><thead><tr><th>Step</th><th>Training Loss</th><th>Validation Loss</th></tr></thead><tbody>` +
      this.rows.map((r) => `<tr><td>${r.step}</td><td>${cell(r.loss)}</td><td>${cell(r.evalLoss)}</td></tr>`).join('') + '</tbody></table>';
    const text = [`${status} ${pct.toFixed(0)}%`, 'Step\tTraining Loss\tValidation Loss', ...this.rows.map((r) => `${r.step}\t${cell(r.loss)}\t${cell(r.evalLoss)}`)].join('\n');
    publish({ 'text/html': html, 'text/plain': text }, { displayId: this.displayId, update: this.shown });
    this.shown = true;
  }
}

/** The progress reporting transformers adds by default: a live table in a notebook, log lines elsewhere. */
export function defaultProgressCallback(): TrainerCallback {
  return currentSink() ? new NotebookProgressCallback() : new PrinterCallback();
}
