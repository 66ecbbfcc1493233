/**
 * The execution side of the kernel: TypeScript cells in, running code with state out.
 *
 * Each cell is type-checked against the declarations of the cells before it (the TypeScript
 * language service), transformed so its top-level names outlive it (transform.ts), and run in the
 * MAIN realm with `vm.Script#runInThisContext()`: libraries that test `instanceof Float32Array`
 * see the same constructors as the cell. SIGINT breaks a synchronous loop (interrupt-guard.ts:
 * the kernel's addon, or Node's breakOnSigint where it is not built). stdout/stderr, display calls and the library's display sink go to the hooks
 * of the running cell; an abort of `hooks.signal` ends a pending await with KeyboardInterrupt.
 *
 * Type errors: by default a cell with a type error is reported (ename `TSError`, each message with
 * the cell's line) and not run. `// @ts-nocheck` in a cell turns checking off for that cell;
 * `new Executor({ cwd, typeCheck: 'warn' })` (or QLORA_TS_TYPECHECK=warn) prints them to stderr
 * and runs anyway; 'off' skips checking.
 */
import { SourceMap } from 'node:module';
import * as vm from 'node:vm';
import { captureOutput } from './capture.js';
import { DisplayApi, DisplayHandle } from './display-api.js';
import { formatValue, type MimeBundle } from './format.js';
import { isComplete, type IsCompleteReply } from './is-complete.js';
import { CellLanguageService } from './language-service.js';
import { ModuleTable } from './modules.js';
import { interruptGuard } from './interrupt-guard.js';
import { describeError, sourceLine, type CellRecord } from './traceback.js';
import { CellSyntaxError, HELPER, objectLiteralCell, transformCell } from './transform.js';

export interface ExecHooks {
  stdout(text: string): void;
  stderr(text: string): void;
  display(bundle: Record<string, unknown>, opts?: { displayId?: string; update?: boolean; metadata?: Record<string, unknown> }): void;
  clear(wait: boolean): void;
  input(prompt: string, password: boolean): Promise<string>;
  /** Aborted on interrupt. */
  signal: AbortSignal;
  /** Optional: the request's execution_count, so tracebacks name the cell `In[n]` as the front end does. */
  executionCount?: number;
}

export type ExecResult =
  | { status: 'ok'; hasValue: boolean; value?: unknown }
  | { status: 'error'; ename: string; evalue: string; traceback: string[] };

export type TypeCheckMode = 'error' | 'warn' | 'off';

export interface ExecutorOptions {
  /** The notebook's folder: imports and `require` resolve from here. */
  cwd: string;
  /** What a type error does: 'error' (default: report, don't run), 'warn' (stderr, run), 'off'. */
  typeCheck?: TypeCheckMode;
}

interface Compiled extends CellRecord {
  script: vm.Script;
  imports: string[];
  endsWithExpression: boolean;
  declares: boolean;
}

/** Compiled cells kept for re-runs and for mapping stack frames; bounded so memory stays flat. */
const CACHE_LIMIT = 256;

export class InterruptError extends Error {
  constructor() {
    super('Interrupted by the user');
    this.name = 'KeyboardInterrupt';
  }
}

/** One per process: the display globals belong to the realm, whichever executor runs a cell. */
const sharedDisplayApi = new DisplayApi();

export class Executor {
  readonly cwd: string;
  readonly typeCheck: TypeCheckMode;
  private readonly modules: ModuleTable;
  private readonly displayApi = sharedDisplayApi;
  private readonly compiled = new Map<string, Compiled>();
  private readonly language: CellLanguageService;
  private cellCount = 0;
  private running: ExecHooks | undefined;
  private lastHooks: ExecHooks | undefined;

  constructor(opts: ExecutorOptions) {
    this.cwd = opts.cwd;
    const env = process.env.QLORA_TS_TYPECHECK as TypeCheckMode | undefined;
    this.typeCheck = opts.typeCheck ?? (env === 'warn' || env === 'off' ? env : 'error');
    this.modules = new ModuleTable(opts.cwd);
    this.language = new CellLanguageService(opts.cwd);
    this.displayApi.install();
    this.installGlobals();
    this.catchStrayErrors();
  }

  /** `require` and the module table of this executor's folder (several executors may share the realm). */
  private installGlobals(): void {
    const g = globalThis as Record<string, unknown>;
    if (g[HELPER] === this.modules) return;
    Object.defineProperty(g, HELPER, { value: this.modules, configurable: true, writable: true, enumerable: false });
    Object.defineProperty(g, 'require', { value: this.modules.require, configurable: true, writable: true, enumerable: false });
  }

  /**
   * Loads the compiler and checks an empty cell (about a second, once), so the first real cell
   * does not pay for it; a kernel may call this after it is idle.
   */
  warmUp(): void {
    if (this.typeCheck !== 'off') this.language.check('');
  }

  async execute(source: string, hooks: ExecHooks): Promise<ExecResult> {
    const guard = interruptGuard();
    const mark = guard.mark();
    const code = objectLiteralCell(source);
    let cell: Compiled;
    const label = hooks.executionCount !== undefined ? `In[${hooks.executionCount}]` : undefined;
    try {
      cell = this.compile(code);
      if (label) cell.label = label;
    } catch (e) {
      if (e instanceof CellSyntaxError) return this.syntaxError(e, code, label);
      return { status: 'error', ...describeError(e, []) };
    }
    if (this.typeCheck !== 'off') {
      const diagnostics = this.language.check(code);
      if (diagnostics.length > 0) {
        const lines = diagnostics.map((d) => `${cell.label}:${d.line}:${d.column} - error TS${d.code}: ${d.message}`);
        if (this.typeCheck === 'error') {
          const first = diagnostics[0];
          return {
            status: 'error', ename: 'TSError', evalue: `${first.message} (line ${first.line})`,
            traceback: [`TSError: ⨯ Unable to compile TypeScript`, ...lines, sourceLine(cell, first.line)],
          };
        }
        hooks.stderr(lines.join('\n') + '\n');
      }
    }
    this.installGlobals();
    const restoreOutput = captureOutput((t) => hooks.stdout(t), (t) => hooks.stderr(t));
    const restoreDisplay = this.displayApi.enter(hooks);
    this.running = hooks;
    this.lastHooks = hooks;
    try {
      await this.modules.preload(cell.imports);
      if (cell.declares) this.language.commit(code);
      // Without the addon, one macrotask turn: a SIGINT that arrived during the type check runs
      // its listener (which aborts the signal) here; otherwise it would wait behind a blocking
      // cell. The addon needs no turn: `guard.run` throws for a SIGINT counted since `mark`.
      if (guard.kind !== 'addon') await new Promise((resolve) => setImmediate(resolve));
      if (hooks.signal.aborted) throw new InterruptError();
      const pending = guard.run((breakOnSigint) => cell.script.runInThisContext({ breakOnSigint }), mark) as Promise<unknown>;
      const value = await this.untilAborted(pending, hooks.signal);
      const hasValue = cell.endsWithExpression && value !== undefined && !(value instanceof DisplayHandle);
      return hasValue ? { status: 'ok', hasValue, value } : { status: 'ok', hasValue: false };
    } catch (e) {
      if (e instanceof Error && /^Script execution (was )?interrupted/.test(e.message)) e = new InterruptError();
      if (e instanceof InterruptError) return { status: 'error', ename: e.name, evalue: e.message, traceback: [`${e.name}: ${e.message}`] };
      return { status: 'error', ...describeError(e, this.compiled.values()) };
    } finally {
      this.running = undefined;
      restoreDisplay();
      restoreOutput();
    }
  }

  formatValue(value: unknown): MimeBundle {
    return formatValue(value);
  }

  complete(code: string, cursorPos: number): Promise<{ matches: string[]; cursorStart: number; cursorEnd: number; metadata: Record<string, unknown> }> {
    return Promise.resolve(this.language.complete(code, cursorPos));
  }

  inspect(code: string, cursorPos: number, detailLevel: number): Promise<{ found: boolean; data: MimeBundle }> {
    return Promise.resolve(this.language.inspect(code, cursorPos, detailLevel));
  }

  isComplete(code: string): IsCompleteReply {
    return isComplete(code);
  }

  /** user_expressions: one expression in the global scope, types stripped, no await. */
  async evaluateExpression(expr: string): Promise<ExecResult> {
    try {
      const { script } = transformCell(`(${expr})`, 'expr.ts');
      const value = await (vm.runInThisContext(script, { filename: '[expression]' }) as Promise<unknown>);
      return { status: 'ok', hasValue: value !== undefined, value };
    } catch (e) {
      return { status: 'error', ...describeError(e, []) };
    }
  }

  private compile(code: string): Compiled {
    const hit = this.compiled.get(code);
    if (hit) {
      this.compiled.delete(code);
      this.compiled.set(code, hit);
      return hit;
    }
    const label = `cell[${++this.cellCount}]`;
    const filename = `${this.cwd}/${label}`;
    const t = transformCell(code, `${label}.ts`);
    const script = new vm.Script(t.script, { filename, importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER });
    const cell: Compiled = {
      label, filename, code, script, imports: t.imports, endsWithExpression: t.endsWithExpression, declares: t.declares,
      map: t.sourceMap ? new SourceMap(JSON.parse(t.sourceMap)) : undefined, firstLineOffset: t.firstLineOffset,
      wrapperLine: t.script.split('\n').length,
    };
    this.compiled.set(code, cell);
    if (this.compiled.size > CACHE_LIMIT) this.compiled.delete(this.compiled.keys().next().value as string);
    return cell;
  }

  private syntaxError(e: CellSyntaxError, code: string, label = `cell[${++this.cellCount}]`): ExecResult {
    const record: CellRecord = { label, filename: '', code, map: undefined, firstLineOffset: 0, wrapperLine: 0 };
    return {
      status: 'error', ename: 'SyntaxError', evalue: `${e.message} (line ${e.line})`,
      traceback: [`SyntaxError: ${e.message}`, `    at ${record.label}:${e.line}:${e.column}`, sourceLine(record, e.line)],
    };
  }

  private untilAborted<T>(pending: Promise<T>, signal: AbortSignal): Promise<T> {
    pending.catch(() => undefined);
    if (signal.aborted) return Promise.reject(new InterruptError());
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(new InterruptError());
      signal.addEventListener('abort', onAbort, { once: true });
      pending.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** Errors thrown from callbacks after a cell's synchronous part go to that cell's stderr. */
  private catchStrayErrors(): void {
    if (process.listenerCount('uncaughtException') > 0 || process.listenerCount('unhandledRejection') > 0) return;
    const report = (e: unknown) => {
      const hooks = this.running ?? this.lastHooks;
      const { traceback } = describeError(e, this.compiled.values());
      if (hooks) hooks.stderr(traceback.join('\n') + '\n');
      else process.stderr.write(traceback.join('\n') + '\n');
    };
    process.on('uncaughtException', report);
    process.on('unhandledRejection', report);
  }
}
