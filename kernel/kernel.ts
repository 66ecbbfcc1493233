/**
 * The kernel's state between requests: the sockets, execution count, history, comms, the stdin
 * prompt, the lazily loaded executor and the AbortController of the running cell. Handlers get
 * this object; they never touch sockets directly.
 */
import { KernelServer } from './server.js';
import { StdinChannel } from './stdin.js';
import { HistoryStore } from './history.js';
import { CommRegistry, type CommTarget, type CommData } from './comms.js';
import { loadExecutor, type Executor } from './executor-loader.js';
import { interruptGuard } from './exec/interrupt-guard.js';
import type { ConnectionInfo } from './connection.js';
import type { Message } from './wire/message.js';

export const commsSymbol = Symbol.for('Jupyter.comms');

export class Kernel {
  readonly server: KernelServer;
  readonly stdin: StdinChannel;
  readonly history: HistoryStore;
  readonly comms: CommRegistry;
  executionCount = 0;
  /** The request being handled; iopub messages sent outside a handler (comms, late output) answer it. */
  parent: Message | undefined;
  private controller: AbortController | undefined;
  private startedAt = 0;
  private cells = 0;
  private sigintMark = 0;
  private repeatsSigint = false;
  private executorInstance: Executor | undefined;
  private stopping = false;

  constructor(info: ConnectionInfo, readonly cwd: string = process.cwd()) {
    this.server = new KernelServer(info);
    this.stdin = new StdinChannel(this.server);
    this.history = new HistoryStore();
    this.comms = new CommRegistry({ publish: (type, content) => void this.publish(this.parent, type, content) });
    (globalThis as Record<symbol, unknown>)[commsSymbol] = {
      registerTarget: (name: string, target: CommTarget) => this.comms.registerTarget(name, target),
      unregisterTarget: (name: string) => this.comms.unregisterTarget(name),
      open: (target: string, data?: CommData) => this.comms.open(target, data),
    };
  }

  get session() {
    return this.server.session;
  }

  /** The executor, loaded on first use (keeps start-up free of the TypeScript compiler). */
  executor(): Executor {
    this.executorInstance ??= loadExecutor(this.cwd);
    return this.executorInstance;
  }

  publish(parent: Message | undefined, msgType: string, content: Record<string, unknown>,
    metadata: Record<string, unknown> = {}): Promise<void> {
    return this.server.publish(this.session.make(msgType, content, parent, [], metadata));
  }

  /**
   * A fresh AbortController for a cell; `interrupt()` aborts it. Without the SIGINT addon the
   * control process is told which cell runs, so that it repeats SIGINT until the cell ends (a
   * signal landing just before breakOnSigint arms is taken by the listener, not the script);
   * with the addon one signal is enough, and nothing is sent.
   */
  beginExecution(): AbortSignal {
    this.controller = new AbortController();
    this.startedAt = Date.now();
    const guard = interruptGuard();
    this.sigintMark = guard.mark();
    this.repeatsSigint = guard.kind !== 'addon';
    if (this.repeatsSigint) this.server.cellRunning(++this.cells);
    return this.controller.signal;
  }

  endExecution(): void {
    this.controller = undefined;
    if (this.repeatsSigint) this.server.cellRunning(null);
  }

  /** The `process.on('SIGINT')` listener: a signal that came before the running cell began is stale. */
  sigint(): void {
    if (interruptGuard().signalledSince(this.sigintMark) === false) return;
    this.interrupt();
  }

  /**
   * Interrupt from either path (SIGINT, or interrupt_request received at `at`): aborts the running
   * cell's signal, unless that cell began after the request (a late message must not stop it).
   */
  interrupt(at = Date.now()): void {
    if (this.startedAt > at) return;
    this.controller?.abort(Object.assign(new Error('interrupted'), { name: 'KeyboardInterrupt' }));
  }

  async shutdown(): Promise<never> {
    if (!this.stopping) {
      this.stopping = true;
      await this.server.close().catch(() => {});
    }
    process.exit(0);
  }
}
