/**
 * The language side of the kernel, as the protocol side sees it (kernel/exec/executor.ts
 * implements it). The executor module loads lazily, on the first request that needs it, so the
 * kernel answers kernel_info and reaches idle before the TypeScript compiler is loaded.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export type MimeBundle = Record<string, unknown>;

export interface ExecHooks {
  stdout(text: string): void;
  stderr(text: string): void;
  display(bundle: MimeBundle, opts?: { displayId?: string; update?: boolean; metadata?: Record<string, unknown> }): void;
  clear(wait: boolean): void;
  input(prompt: string, password: boolean): Promise<string>;
  signal: AbortSignal;
}

export type ExecResult =
  | { status: 'ok'; hasValue: boolean; value?: unknown }
  | { status: 'error'; ename: string; evalue: string; traceback: string[] };

export interface ExecutorLike {
  execute(code: string, hooks: ExecHooks): Promise<ExecResult>;
  formatValue(value: unknown): MimeBundle;
  complete(code: string, cursorPos: number): Promise<{ matches: string[]; cursorStart: number; cursorEnd: number; metadata: Record<string, unknown> }>;
  inspect(code: string, cursorPos: number, detailLevel: number): Promise<{ found: boolean; data: MimeBundle }>;
  isComplete(code: string): { status: 'complete' | 'incomplete' | 'invalid' | 'unknown'; indent?: string };
  evaluateExpression(expr: string): Promise<ExecResult>;
}

type ExecutorModule = { Executor: new (opts: { cwd: string }) => ExecutorLike };

/** Loads kernel/exec/executor.js (TEMPORARY: the plain-JavaScript dev executor while it is absent). */
export function loadExecutor(cwd: string): ExecutorLike {
  const real = join(__dirname, 'exec', 'executor.js');
  const path = existsSync(real) ? real : join(__dirname, 'dev-executor.js');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(path) as ExecutorModule;
  return new mod.Executor({ cwd });
}
