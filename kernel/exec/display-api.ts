/**
 * The display API cells get as globals: `display(value | bundle, { displayId, update })`,
 * `html`, `markdown`, `svg`, `png`, `json`, `latex` (each shows at once and returns a handle
 * whose `.update(value)` replaces that output), `clearOutput({ wait })`, `await input(prompt)`,
 * `await password(prompt)`, and `kernelSignal` (the running cell's AbortSignal, also
 * `Jupyter.signal`). While a cell runs, the library's sink lives on
 * `globalThis[Symbol.for('Jupyter.displaySink')]`.
 */
import { randomUUID } from 'node:crypto';
import { formatValue, isMimeBundle, plainText, type MimeBundle } from './format.js';

export interface DisplayHooks {
  display(bundle: MimeBundle, opts?: { displayId?: string; update?: boolean; metadata?: Record<string, unknown> }): void;
  clear(wait: boolean): void;
  input(prompt: string, password: boolean): Promise<string>;
  signal: AbortSignal;
}

/** The library's side of the contract (lib/display.ts), duplicated so kernel/ never imports lib/. */
export interface DisplaySink {
  display(bundle: MimeBundle, options?: { displayId?: string; update?: boolean; metadata?: Record<string, unknown> }): void;
  clear(wait?: boolean): void;
  readonly signal?: AbortSignal;
}

export const sinkSymbol = Symbol.for('Jupyter.displaySink');

export interface DisplayOptions { displayId?: string; update?: boolean; metadata?: Record<string, unknown> }

function toBundle(value: unknown): MimeBundle {
  return isMimeBundle(value) ? ('text/plain' in value ? value : { 'text/plain': '', ...value }) : formatValue(value);
}

/** What `display()` returns: the id of the output, to update it in place. */
export class DisplayHandle {
  constructor(readonly displayId: string, private readonly api: DisplayApi) {}
  update(value: unknown, metadata?: Record<string, unknown>): void {
    this.api.show(toBundle(value), { displayId: this.displayId, update: true, metadata });
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `DisplayHandle(${this.displayId})`;
  }
}

export class DisplayApi {
  private current: DisplayHooks | undefined;
  private last: DisplayHooks | undefined;

  /** Points the API (and the library's sink) at a cell's hooks; returns the restore function. */
  enter(hooks: DisplayHooks): () => void {
    this.current = hooks;
    this.last = hooks;
    const g = globalThis as Record<symbol, unknown>;
    const previous = g[sinkSymbol];
    const sink: DisplaySink = {
      display: (bundle, options) => hooks.display(bundle, options),
      clear: (wait) => hooks.clear(!!wait),
      signal: hooks.signal,
    };
    g[sinkSymbol] = sink;
    return () => {
      this.current = undefined;
      if (previous === undefined) delete g[sinkSymbol]; else g[sinkSymbol] = previous;
    };
  }

  private hooks(): DisplayHooks {
    const h = this.current ?? this.last;
    if (!h) throw new Error('display: no cell has run yet');
    return h;
  }

  show(bundle: MimeBundle, opts: DisplayOptions): void {
    this.hooks().display(bundle, opts);
  }

  display(value: unknown, opts: DisplayOptions = {}): DisplayHandle {
    const displayId = opts.displayId ?? randomUUID();
    this.show(toBundle(value), { ...opts, displayId });
    return new DisplayHandle(displayId, this);
  }

  /** The globals cells see. */
  globals(): Record<string, unknown> {
    const show = (mime: string, text: (v: never) => string = String) =>
      (data: never, opts?: DisplayOptions) => this.display({ [mime]: data, 'text/plain': text(data) }, opts);
    const png = (data: Uint8Array | string, opts?: DisplayOptions) =>
      this.display({ 'image/png': typeof data === 'string' ? data : Buffer.from(data).toString('base64'), 'text/plain': '<PNG image>' }, opts);
    const api = {
      display: (value: unknown, opts?: DisplayOptions) => this.display(value, opts),
      html: show('text/html'),
      markdown: show('text/markdown'),
      svg: show('image/svg+xml', () => '<SVG image>'),
      png,
      json: show('application/json', (v) => plainText(v)),
      latex: show('text/latex'),
      clearOutput: (opts: { wait?: boolean } = {}) => this.hooks().clear(!!opts.wait),
      input: (prompt = '') => this.hooks().input(String(prompt), false),
      password: (prompt = '') => this.hooks().input(String(prompt), true),
    };
    const self = this;
    const jupyter = { ...api, get signal(): AbortSignal | undefined { return self.current?.signal; } };
    return { ...api, Jupyter: jupyter };
  }

  /** Installs the globals (and the `kernelSignal` getter) on the global object. */
  install(): void {
    const g = globalThis as Record<string, unknown>;
    for (const [name, value] of Object.entries(this.globals())) {
      Object.defineProperty(g, name, { value, writable: true, configurable: true, enumerable: false });
    }
    const self = this;
    Object.defineProperty(g, 'kernelSignal', { get: () => self.current?.signal ?? self.last?.signal, configurable: true });
  }
}
