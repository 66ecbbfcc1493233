/**
 * How library objects render in a notebook without importing the kernel.
 *
 * An object renders with the MIME bundle returned by its `[displaySymbol]()` method (Deno's
 * convention). Live output (a loss plot updated during training, a progress bar) goes through the
 * sink a Jupyter kernel installs on `globalThis[sinkSymbol]`; in plain Node there is no sink and
 * `publish` prints the text/plain part instead.
 */
export const displaySymbol: unique symbol = Symbol.for('Jupyter.display') as never;
export const sinkSymbol: unique symbol = Symbol.for('Jupyter.displaySink') as never;

/** MIME type → data, as in a display_data message (`text/plain`, `text/html`, `image/png`, …). */
export type MimeBundle = Record<string, unknown>;

export interface Displayable {
  [displaySymbol](): MimeBundle;
}

/** What the kernel offers the library while a cell runs. */
export interface DisplaySink {
  /** display_data, or update_display_data when `update` is true, with an optional display id. */
  display(bundle: MimeBundle, options?: { displayId?: string; update?: boolean; metadata?: Record<string, unknown> }): void;
  /** clear_output. */
  clear(wait?: boolean): void;
  /** Aborted when the user interrupts the running cell. */
  readonly signal?: AbortSignal;
}

export function isDisplayable(value: unknown): value is Displayable {
  return value !== null && (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as Record<symbol, unknown>)[displaySymbol] === 'function';
}

export function currentSink(): DisplaySink | undefined {
  return (globalThis as Record<symbol, unknown>)[sinkSymbol] as DisplaySink | undefined;
}

/** The AbortSignal of the running cell, if a kernel runs this code. */
export function currentSignal(): AbortSignal | undefined {
  return currentSink()?.signal;
}

/**
 * Shows a bundle in the notebook (or updates the display with `displayId`); outside a kernel it
 * prints the text/plain part, once per new display id.
 */
export function publish(bundle: MimeBundle, options: { displayId?: string; update?: boolean } = {}): void {
  const sink = currentSink();
  if (sink) {
    sink.display(bundle, options);
    return;
  }
  if (options.update) return;
  const text = bundle['text/plain'];
  if (typeof text === 'string') console.log(text);
}
