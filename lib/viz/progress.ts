/**
 * A tqdm-style progress bar for long work (training steps, generation over a test set,
 * quantizing a checkpoint). In a notebook it is one display updated in place
 * (update_display_data, text/plain + text/html); in a terminal one line rewritten with `\r`;
 * when stdout is not a terminal (logs, CI) one line at the end.
 */
import { currentSink, displaySymbol, publish, type MimeBundle } from '../display';
import { escapeHtml } from '../html';
import { PALETTE } from './theme';

export interface ProgressBarOptions {
  total?: number;
  desc?: string;
  unit?: string;
  /** Fewest milliseconds between two redraws (default 100); the last state is always drawn. */
  minIntervalMs?: number;
  /** Width of the text bar in characters (default 24). */
  width?: number;
  /** Clock for elapsed time (tests pass a fake one). */
  now?: () => number;
}

let nextId = 0;

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export class ProgressBar {
  readonly total: number | undefined;
  readonly desc: string;
  readonly unit: string;
  readonly displayId: string;
  n = 0;
  postfix = '';
  private readonly width: number;
  private readonly minIntervalMs: number;
  private readonly now: () => number;
  private readonly start: number;
  private lastDraw = -Infinity;
  private shown = false;
  private closed = false;

  constructor(options: ProgressBarOptions = {}) {
    this.total = options.total;
    this.desc = options.desc ?? '';
    this.unit = options.unit ?? 'it';
    this.width = options.width ?? 24;
    this.minIntervalMs = options.minIntervalMs ?? 100;
    this.now = options.now ?? (() => performance.now());
    this.start = this.now();
    this.displayId = `qlora-ts-progress-${process.pid}-${nextId++}`;
    this.draw(true);
  }

  /** Wraps an iterable like tqdm: `for (const row of ProgressBar.wrap(rows, { desc: 'generate' }))`. */
  static *wrap<T>(items: Iterable<T>, options: ProgressBarOptions = {}): Generator<T> {
    const total = options.total ?? (Array.isArray(items) ? items.length : undefined);
    const bar = new ProgressBar({ ...options, total });
    try {
      for (const item of items) {
        yield item;
        bar.update();
      }
    } finally {
      bar.close();
    }
  }

  update(by = 1, postfix?: string): void {
    this.n += by;
    if (postfix !== undefined) this.postfix = postfix;
    this.draw(false);
  }

  set(n: number, postfix?: string): void {
    this.n = n;
    if (postfix !== undefined) this.postfix = postfix;
    this.draw(false);
  }

  /** Draws the final state; a terminal gets its newline. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.draw(true);
    if (!currentSink()) {
      if (process.stdout.isTTY) process.stdout.write('\n');
      else process.stdout.write(this.text() + '\n');
    }
  }

  /** `desc:  45%|██████████▊             | 45/100 [00:12<00:14,  3.75it/s, loss=1.23]` */
  text(): string {
    const elapsed = (this.now() - this.start) / 1000;
    const rate = elapsed > 0 ? this.n / elapsed : 0;
    const rateText = rate > 0 ? (rate >= 1 ? `${rate.toFixed(2)}${this.unit}/s` : `${(1 / rate).toFixed(2)}s/${this.unit}`) : `?${this.unit}/s`;
    const post = this.postfix ? `, ${this.postfix}` : '';
    const desc = this.desc ? `${this.desc}: ` : '';
    if (this.total === undefined || this.total <= 0) return `${desc}${this.n}${this.unit} [${clock(elapsed)}, ${rateText}${post}]`;
    const frac = Math.min(1, this.n / this.total);
    const eighths = Math.round(frac * this.width * 8);
    const full = Math.floor(eighths / 8);
    const partial = eighths % 8 ? ' ▏▎▍▌▋▊▉'[eighths % 8] : '';
    const bar = ('█'.repeat(full) + partial).padEnd(this.width, ' ');
    const remaining = rate > 0 ? (this.total - this.n) / rate : NaN;
    return `${desc}${String(Math.floor(frac * 100)).padStart(3)}%|${bar}| ${this.n}/${this.total} [${clock(elapsed)}<${clock(remaining)}, ${rateText}${post}]`;
  }

  html(): string {
    const pct = this.total ? Math.min(100, (100 * this.n) / this.total) : 0;
    const status = escapeHtml(this.text().replace(/\|[^|]*\|/, ''));
    const color = this.closed && this.total !== undefined && this.n >= this.total ? PALETTE[2] : PALETTE[0];
    return `<div class="qlora-ts-progress" style="font-family:monospace;font-size:12px;display:flex;align-items:center;gap:8px;">` +
      `<div style="width:240px;height:10px;background:#E5E5E5;border-radius:5px;overflow:hidden;">` +
      `<div style="width:${pct.toFixed(1)}%;height:100%;background:${color};"></div></div>` +
      `<span>${status}</span></div>`;
  }

  [displaySymbol](): MimeBundle {
    return { 'text/plain': this.text(), 'text/html': this.html() };
  }

  private draw(force: boolean): void {
    const t = this.now();
    if (!force && t - this.lastDraw < this.minIntervalMs && !(this.total !== undefined && this.n >= this.total)) return;
    this.lastDraw = t;
    if (currentSink()) {
      publish(this[displaySymbol](), { displayId: this.displayId, update: this.shown });
      this.shown = true;
    } else if (process.stdout.isTTY) {
      process.stdout.write(`\r${this.text()}\x1b[K`);
    }
  }
}
