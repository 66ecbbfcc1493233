/**
 * The installed plotly.js (plotly.js-dist-min), for offline notebook HTML: no CDN is reachable,
 * so the first figure shown in a notebook carries the library inline and later ones use
 * `window.Plotly` (see figure.ts).
 */
import { readFileSync } from 'node:fs';

let source: string | undefined;

export function plotlyScriptPath(): string {
  return require.resolve('plotly.js-dist-min/plotly.min.js');
}

export function plotlyVersion(): string {
  return (require('plotly.js-dist-min/package.json') as { version: string }).version;
}

/** plotly.min.js, safe to place inside a <script> element. */
export function plotlySource(): string {
  source ??= readFileSync(plotlyScriptPath(), 'utf8').replace(/<\/script/gi, '<\\/script');
  return source;
}

const INLINED = Symbol.for('qlora-ts.plotlyInlined');

/** Whether this process has already sent plotly.js inline to the notebook. */
export function plotlyInlined(): boolean {
  return (globalThis as Record<symbol, unknown>)[INLINED] === true;
}

export function markPlotlyInlined(value = true): void {
  (globalThis as Record<symbol, unknown>)[INLINED] = value;
}

/**
 * Makes the next figure carry plotly.js inline again: after clearing the output that held it,
 * or in a new notebook served by the same kernel process.
 */
export function resetPlotlyInline(): void {
  markPlotlyInlined(false);
}
