/**
 * execute_request: execute_input, the cell's streams / displays / clears in order, then
 * execute_result or error, user_expressions, history, and the reply. `silent` publishes nothing
 * and stores nothing; `allow_stdin: false` makes `input()` fail instead of prompting. During the
 * cell the display sink (`Symbol.for('Jupyter.displaySink')`) lets library code publish too.
 */
import type { Handler } from '../dispatch.js';
import type { Kernel } from '../kernel.js';
import type { ExecHooks, ExecResult, MimeBundle } from '../executor-loader.js';
import type { Message } from '../wire/message.js';

const sinkSymbol = Symbol.for('Jupyter.displaySink');

/** Publishes a cell's outputs in order; consecutive writes to one stream go out as one message. */
class Outputs {
  private stream: { name: 'stdout' | 'stderr'; text: string } | undefined;
  private scheduled = false;

  constructor(private readonly k: Kernel, private readonly parent: Message, private readonly silent: boolean) {}

  write(name: 'stdout' | 'stderr', text: string): void {
    if (this.silent || !text) return;
    if (this.stream && this.stream.name !== name) this.flush();
    if (this.stream) this.stream.text += text;
    else this.stream = { name, text };
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  publish(msgType: string, content: Record<string, unknown>): void {
    if (this.silent) return;
    this.flush();
    void this.k.publish(this.parent, msgType, content);
  }

  flush(): void {
    this.scheduled = false;
    if (!this.stream) return;
    const { name, text } = this.stream;
    this.stream = undefined;
    void this.k.publish(this.parent, 'stream', { name, text });
  }
}

function errorContent(r: Extract<ExecResult, { status: 'error' }>) {
  return { ename: r.ename, evalue: r.evalue, traceback: r.traceback };
}

export const execute: Handler = async (k, msg) => {
  const c = msg.content;
  const code = String(c.code ?? '');
  const silent = c.silent === true;
  const storeHistory = !silent && c.store_history !== false;
  const allowStdin = c.allow_stdin !== false;
  if (storeHistory) k.executionCount++;
  const count = k.executionCount;
  const out = new Outputs(k, msg, silent);
  if (!silent) void k.publish(msg, 'execute_input', { code, execution_count: count });

  const signal = k.beginExecution();
  const hooks: ExecHooks = {
    stdout: (text) => out.write('stdout', text),
    stderr: (text) => out.write('stderr', text),
    display: (bundle: MimeBundle, opts = {}) => {
      const transient = opts.displayId !== undefined ? { display_id: opts.displayId } : {};
      out.publish(opts.update ? 'update_display_data' : 'display_data',
        { data: bundle, metadata: opts.metadata ?? {}, transient });
    },
    clear: (wait) => out.publish('clear_output', { wait: !!wait }),
    input: (prompt, password) => {
      if (!allowStdin) {
        return Promise.reject(Object.assign(new Error('input() is not available: this frontend does not support input requests'),
          { name: 'StdinNotImplementedError' }));
      }
      out.flush();
      return k.stdin.request(msg, String(prompt ?? ''), !!password, signal);
    },
    signal,
    executionCount: storeHistory ? count : undefined,
  };
  const g = globalThis as Record<symbol, unknown>;
  g[sinkSymbol] = { display: hooks.display, clear: (wait?: boolean) => hooks.clear(!!wait), signal };

  let result: ExecResult;
  let text: string | undefined;
  try {
    const executor = k.executor();
    result = await executor.execute(code, hooks);
    if (result.status === 'ok' && result.hasValue && !silent) {
      const data = executor.formatValue(result.value);
      text = typeof data['text/plain'] === 'string' ? data['text/plain'] : undefined;
      out.publish('execute_result', { execution_count: count, data, metadata: {} });
    }
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    result = { status: 'error', ename: err.name, evalue: err.message, traceback: String(err.stack).split('\n') };
  } finally {
    k.endExecution();
    delete g[sinkSymbol];
  }
  if (result.status === 'error') out.publish('error', errorContent(result));
  out.flush();
  if (storeHistory) k.history.append(count, code, text);

  if (result.status === 'error') {
    return { content: { status: 'error', execution_count: count, ...errorContent(result) }, metadata: { status: 'error' } };
  }
  return {
    content: { status: 'ok', execution_count: count, user_expressions: await userExpressions(k, c.user_expressions), payload: [] },
    metadata: { status: 'ok' },
  };
};

async function userExpressions(k: Kernel, exprs: unknown): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  if (typeof exprs !== 'object' || exprs === null) return out;
  const executor = k.executor();
  for (const [name, expr] of Object.entries(exprs as Record<string, unknown>)) {
    const r = await executor.evaluateExpression(String(expr));
    out[name] = r.status === 'ok'
      ? { status: 'ok', data: executor.formatValue(r.value), metadata: {} }
      : { status: 'error', ...errorContent(r) };
  }
  return out;
}
