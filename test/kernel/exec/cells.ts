/** Drives an Executor the way the kernel does, collecting every output of a cell in order. */
import { join } from 'node:path';
import type { ExecHooks, ExecResult, Executor } from '../../../kernel/exec/executor.js';
import { packageRoot } from '../../../lib/package_root';

export type Output =
  | { kind: 'stdout' | 'stderr'; text: string }
  | { kind: 'display'; bundle: Record<string, unknown>; opts?: { displayId?: string; update?: boolean } }
  | { kind: 'clear'; wait: boolean }
  | { kind: 'input'; prompt: string; password: boolean };

export interface CellRun { result: ExecResult; outputs: Output[]; controller: AbortController }

/** The repository root. */
export const repoRoot = packageRoot;

/** Hooks that record outputs; `interruptOn`: abort the cell shortly after it prints this text. */
/** The folder the test notebooks "live" in: a folder of this repository that always exists. */
export function notebookDir(): string {
  return join(repoRoot(), 'test', 'kernel', 'exec');
}

export function hooksFor(outputs: Output[], controller = new AbortController(), interruptOn?: string): ExecHooks {
  return {
    stdout: (text) => {
      outputs.push({ kind: 'stdout', text });
      if (interruptOn !== undefined && text.includes(interruptOn)) setTimeout(() => controller.abort(), 20);
    },
    stderr: (text) => outputs.push({ kind: 'stderr', text }),
    display: (bundle, opts) => outputs.push({ kind: 'display', bundle, opts }),
    clear: (wait) => outputs.push({ kind: 'clear', wait }),
    input: async (prompt, password) => {
      outputs.push({ kind: 'input', prompt, password });
      return 'typed';
    },
    signal: controller.signal,
  };
}

/**
 * Lets the test runner finish writing earlier reports to stdout first: a running cell owns the
 * process's stdout, and node:test's child process reports through it.
 */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 5));
}

export async function run(ex: Executor, code: string, controller = new AbortController(), interruptOn?: string): Promise<CellRun> {
  await settle();
  const outputs: Output[] = [];
  const result = await ex.execute(code, hooksFor(outputs, controller, interruptOn));
  return { result, outputs, controller };
}

/** Runs a cell that must succeed and returns its value's text/plain (undefined when it has none). */
export async function value(ex: Executor, code: string): Promise<string | undefined> {
  const { result } = await run(ex, code);
  if (result.status !== 'ok') throw new Error(`cell failed: ${result.ename}: ${result.evalue}\n${result.traceback.join('\n')}`);
  return result.hasValue ? ex.formatValue(result.value)['text/plain'] as string : undefined;
}

export function streamText(outputs: Output[]): string {
  return outputs.map((o) => (o.kind === 'stdout' || o.kind === 'stderr' ? `${o.kind}:${o.text}` : '')).join('');
}
