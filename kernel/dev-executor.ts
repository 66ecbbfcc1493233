/**
 * TEMPORARY: a plain-JavaScript executor with the contract of kernel/exec/executor.ts, so the
 * protocol side can be built and tested before the TypeScript executor lands. Removed then.
 */
import { runInThisContext } from 'node:vm';
import { inspect } from 'node:util';
import type { ExecHooks, ExecResult, MimeBundle } from './executor-loader.js';

export class Executor {
  constructor(readonly opts: { cwd: string }) {}

  async execute(code: string, hooks: ExecHooks): Promise<ExecResult> {
    const g = globalThis as Record<string, unknown>;
    const saved = console.log;
    const savedErr = console.error;
    console.log = (...a: unknown[]) => hooks.stdout(a.map((x) => typeof x === 'string' ? x : inspect(x)).join(' ') + '\n');
    console.error = (...a: unknown[]) => hooks.stderr(a.map((x) => typeof x === 'string' ? x : inspect(x)).join(' ') + '\n');
    g.display = (v: unknown, o?: { displayId?: string; update?: boolean }) => hooks.display(this.formatValue(v), o);
    g.input = (p: string, pw = false) => hooks.input(p, pw);
    g.clearOutput = (o?: { wait?: boolean }) => hooks.clear(!!o?.wait);
    try {
      let value: unknown;
      const src = /\bawait\b/.test(code) ? `(async () => { return ${code.replace(/;\s*$/, '')} })()` : code;
      value = runInThisContext(src, { breakOnSigint: true, filename: 'cell' });
      if (value instanceof Promise) {
        value = await new Promise((resolve, reject) => {
          const onAbort = () => reject(Object.assign(new Error('interrupted'), { name: 'KeyboardInterrupt' }));
          if (hooks.signal.aborted) onAbort();
          hooks.signal.addEventListener('abort', onAbort, { once: true });
          (value as Promise<unknown>).then(resolve, reject).finally(() => hooks.signal.removeEventListener('abort', onAbort));
        });
      }
      return { status: 'ok', hasValue: value !== undefined, value };
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      const name = /Script execution was interrupted/.test(err.message) ? 'KeyboardInterrupt' : err.name;
      return { status: 'error', ename: name, evalue: err.message, traceback: [`${name}: ${err.message}`] };
    } finally {
      console.log = saved;
      console.error = savedErr;
    }
  }

  formatValue(value: unknown): MimeBundle {
    const sym = Symbol.for('Jupyter.display');
    const v = value as Record<symbol, unknown> | null;
    if (v && typeof v === 'object' && typeof v[sym] === 'function') return (v[sym] as () => MimeBundle)();
    return { 'text/plain': inspect(value, { colors: false }) };
  }

  async complete(code: string, cursorPos: number) {
    const m = /[A-Za-z_$][\w$]*$/.exec(code.slice(0, cursorPos));
    const prefix = m ? m[0] : '';
    const matches = Object.getOwnPropertyNames(globalThis).filter((n) => n.startsWith(prefix)).sort();
    return { matches, cursorStart: cursorPos - prefix.length, cursorEnd: cursorPos, metadata: {} };
  }

  async inspect(code: string, cursorPos: number, _detailLevel: number) {
    const m = /[A-Za-z_$][\w$]*$/.exec(code.slice(0, cursorPos));
    const g = globalThis as Record<string, unknown>;
    if (!m || !(m[0] in g)) return { found: false, data: {} };
    return { found: true, data: { 'text/plain': inspect(g[m[0]]) } };
  }

  isComplete(code: string) {
    let depth = 0;
    for (const c of code) depth += c === '{' || c === '(' || c === '[' ? 1 : c === '}' || c === ')' || c === ']' ? -1 : 0;
    if (depth < 0) return { status: 'invalid' as const };
    return depth > 0 ? { status: 'incomplete' as const, indent: '  ' } : { status: 'complete' as const };
  }

  async evaluateExpression(expr: string): Promise<ExecResult> {
    try {
      return { status: 'ok', hasValue: true, value: runInThisContext(expr) };
    } catch (e) {
      const err = e as Error;
      return { status: 'error', ename: err.name, evalue: err.message, traceback: [String(err.stack)] };
    }
  }
}
