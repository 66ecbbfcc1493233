/**
 * The MIME bundle of a value: its own `[Symbol.for('Jupyter.display')]()` bundle when it has
 * one (how the library's frames and figures render), else util.inspect text without ANSI colors.
 */
import { inspect } from 'node:util';

export type MimeBundle = Record<string, unknown>;

export const displaySymbol = Symbol.for('Jupyter.display');

const ansi = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;

export function stripAnsi(text: string): string {
  return text.replace(ansi, '');
}

export function plainText(value: unknown): string {
  return stripAnsi(inspect(value, { colors: false, depth: 4, maxArrayLength: 100, maxStringLength: 10_000, breakLength: 100 }));
}

export function isDisplayable(value: unknown): value is { [displaySymbol](): MimeBundle } {
  return value !== null && (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as Record<symbol, unknown>)[displaySymbol] === 'function';
}

/** tfjs tensors print their values (`Tensor\n    [1, 2, 3]`), not their bookkeeping fields. */
function tensorText(value: unknown): string | undefined {
  const t = value as { dataSync?: unknown; shape?: unknown; dtype?: unknown; isDisposed?: boolean; toString(verbose?: boolean): string } | null;
  if (t === null || typeof t !== 'object' || typeof t.dataSync !== 'function' || !Array.isArray(t.shape) || typeof t.dtype !== 'string') return undefined;
  if (t.isDisposed) return `Tensor (disposed) shape=[${(t.shape as number[]).join(', ')}] dtype=${t.dtype}`;
  try {
    return t.toString(true);
  } catch {
    return undefined;
  }
}

export function formatValue(value: unknown): MimeBundle {
  const tensor = tensorText(value);
  if (tensor !== undefined && !isDisplayable(value)) return { 'text/plain': stripAnsi(tensor) };
  if (isDisplayable(value)) {
    const bundle = value[displaySymbol]();
    if (bundle && typeof bundle === 'object') {
      return 'text/plain' in bundle ? { ...bundle } : { 'text/plain': plainText(value), ...bundle };
    }
  }
  return { 'text/plain': plainText(value) };
}

/** True for a plain object whose keys all look like MIME types (`{ 'text/html': '<b>x</b>' }`). */
export function isMimeBundle(value: unknown): value is MimeBundle {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((k) => /^[a-z]+\/[-+.\w]+$/i.test(k));
}
