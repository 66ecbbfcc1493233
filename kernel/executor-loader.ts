/**
 * Loads the language side of the kernel (kernel/exec/executor.ts) lazily, on the first request
 * that needs it, so the kernel answers kernel_info and reaches idle before the TypeScript
 * compiler is loaded.
 */
import type { Executor, ExecHooks, ExecResult } from './exec/executor.js';

export type { Executor, ExecHooks, ExecResult };
export type MimeBundle = Record<string, unknown>;

export function loadExecutor(cwd: string): Executor {
  // A plain require keeps the module (and typescript) out of start-up; the type import above
  // keeps the call checked against the executor's contract.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require('./exec/executor.js') as typeof import('./exec/executor.js');
  return new mod.Executor({ cwd });
}
