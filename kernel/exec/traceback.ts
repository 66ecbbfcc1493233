/**
 * Errors as Jupyter shows them: ename, evalue and a traceback whose frames name the cell and
 * the cell's own line, found through the transpiler's source map (the rewrite of top-level
 * statements keeps generated lines, so only the wrapper's prefix on line 1 shifts columns).
 */
import { SourceMap } from 'node:module';
import { dirname } from 'node:path';
import { plainText } from './format.js';

/** This folder: frames of the executor itself are not the user's. */
const kernelDir = dirname(__filename);

export interface CellRecord {
  /** How frames name it: `cell[3]`. */
  label: string;
  /** The vm script's file name, as V8 writes it in stack frames. */
  filename: string;
  code: string;
  map: SourceMap | undefined;
  firstLineOffset: number;
  /** The generated line that only closes the wrapper (`})()`): frames there are the wrapper's call. */
  wrapperLine: number;
}

export interface ErrorReport { ename: string; evalue: string; traceback: string[] }

/** The cell's (1-based) line and column of a generated position (1-based, as in stack frames). */
export function cellPosition(cell: CellRecord, line: number, column: number): { line: number; column: number } | undefined {
  if (line === cell.wrapperLine || (line === 1 && column - 1 < cell.firstLineOffset)) return undefined;
  const col0 = line === 1 ? Math.max(0, column - 1 - cell.firstLineOffset) : column - 1;
  const entry = cell.map?.findEntry(line - 1, col0) as { originalLine?: number; originalColumn?: number } | undefined;
  if (!entry || entry.originalLine === undefined) return { line, column };
  return { line: entry.originalLine + 1, column: (entry.originalColumn ?? 0) + 1 };
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A pointer at the failing line: `--> 2 | y + 1`. */
export function sourceLine(cell: CellRecord, line: number): string {
  const text = cell.code.split('\n')[line - 1];
  return text === undefined ? '' : `--> ${line} | ${text}`;
}

export function describeError(error: unknown, cells: Iterable<CellRecord>): ErrorReport {
  if (!(error instanceof Error) && !(error !== null && typeof error === 'object' && 'stack' in error)) {
    const evalue = typeof error === 'string' ? error : plainText(error);
    return { ename: 'Error', evalue, traceback: [`Uncaught ${evalue}`] };
  }
  const err = error as Error;
  const ename = err.name || err.constructor?.name || 'Error';
  const evalue = err.message ?? '';
  const stack = typeof err.stack === 'string' ? err.stack : `${ename}: ${evalue}`;
  const lines = stack.split('\n');
  const firstFrame = lines.findIndex((l) => /^\s+at /.test(l));
  const header = firstFrame < 0 ? lines : lines.slice(0, firstFrame);
  const frames = firstFrame < 0 ? [] : lines.slice(firstFrame);
  const list = [...cells];
  let pointer = '';
  const mapped: string[] = [];
  for (const frame of frames) {
    const inCell = list.some((c) => frame.includes(`${c.filename}:`));
    if (!inCell && (/node:internal|node:vm|\[notebook\]/.test(frame) || frame.includes(kernelDir))) continue;
    let text = frame;
    let wrapper = false;
    for (const cell of list) {
      const re = new RegExp(`${escape(cell.filename)}:(\\d+):(\\d+)`, 'g');
      text = text.replace(re, (m, l: string, c: string) => {
        const pos = cellPosition(cell, Number(l), Number(c));
        if (!pos) {
          wrapper = true;
          return m;
        }
        if (!pointer) pointer = sourceLine(cell, pos.line);
        return `${cell.label}:${pos.line}:${pos.column}`;
      });
    }
    if (wrapper) continue;
    if (text !== mapped[mapped.length - 1]) mapped.push(text);
  }
  // Frames below the outermost cell frame are the kernel calling the cell.
  const lastCell = mapped.findLastIndex((f) => list.some((c) => f.includes(`${c.label}:`)));
  if (lastCell >= 0) mapped.length = lastCell + 1;
  return { ename, evalue, traceback: [...header, ...mapped, ...(pointer ? [pointer] : [])] };
}
