/**
 * msg_type → handler, and the chores around every request: status busy/idle with the request as
 * parent, outputs drained to iopub before the reply, replies on the channel the request came in
 * on, shell requests one at a time, and stop_on_error (execute requests queued behind a failed
 * one are answered with status 'aborted').
 */
import type { Kernel } from './kernel.js';
import { replyType, type Message } from './wire/message.js';
import { kernelInfo } from './handlers/kernel-info.js';
import { execute } from './handlers/execute.js';
import { complete, inspect, isComplete } from './handlers/introspection.js';
import { history } from './handlers/history.js';
import { commClose, commInfo, commMsg, commOpen } from './handlers/comm.js';
import { shutdown } from './handlers/shutdown.js';
import { debug } from './handlers/debug.js';

export interface Reply {
  content: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  /** Runs after the reply and idle went out (shutdown). */
  after?: () => Promise<void>;
}
/** A request handler: its reply, or undefined for messages that get none (comm_*). */
export type Handler = (kernel: Kernel, msg: Message) => Promise<Reply | undefined>;

export const handlers: Record<string, Handler> = {
  kernel_info_request: kernelInfo,
  execute_request: execute,
  complete_request: complete,
  inspect_request: inspect,
  is_complete_request: isComplete,
  history_request: history,
  comm_info_request: commInfo,
  comm_open: commOpen,
  comm_msg: commMsg,
  comm_close: commClose,
  shutdown_request: shutdown,
  debug_request: debug,
};

type Channel = 'shell' | 'control';

export class Dispatcher {
  private readonly queue: Message[] = [];
  private readonly aborted = new WeakSet<Message>();
  private pumping = false;

  constructor(private readonly kernel: Kernel) {}

  shell(msg: Message): void {
    this.queue.push(msg);
    if (!this.pumping) void this.pump();
  }

  /** Control requests run at once, even while a shell request is in progress. */
  control(msg: Message, interrupted: boolean, at: number): void {
    if (interrupted) {
      // The control process already replied and sent SIGINT; abort a pending await too, and report status.
      this.kernel.interrupt(at);
      void this.kernel.publish(msg, 'status', { execution_state: 'busy' })
        .then(() => this.kernel.publish(msg, 'status', { execution_state: 'idle' }));
      return;
    }
    void this.handle('control', msg);
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    while (this.queue.length) await this.handle('shell', this.queue.shift()!);
    this.pumping = false;
  }

  private async handle(channel: Channel, msg: Message): Promise<void> {
    const k = this.kernel;
    const type = msg.header.msg_type;
    if (channel === 'shell') k.parent = msg;
    void k.publish(msg, 'status', { execution_state: 'busy' });
    let reply: Reply | undefined;
    if (this.aborted.has(msg)) {
      reply = { content: { status: 'aborted' }, metadata: { status: 'aborted' } };
    } else {
      const handler = handlers[type];
      try {
        reply = handler ? await handler(k, msg) : undefined;
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        reply = { content: { status: 'error', ename: err.name, evalue: err.message, traceback: String(err.stack).split('\n') } };
      }
    }
    // Before the reply: requests sent after the client saw it must not be aborted.
    if (type === 'execute_request' && reply?.content.status === 'error' && msg.content.stop_on_error !== false) {
      await this.abortQueued();
    }
    await k.server.drainIopub();
    if (reply) {
      await k.server.send(channel, k.session.make(replyType(type), reply.content, msg, undefined, reply.metadata ?? {}));
    }
    await k.publish(msg, 'status', { execution_state: 'idle' });
    await reply?.after?.();
  }

  /** Marks the execute requests received so far (let the receive loop catch up first) as aborted. */
  private async abortQueued(): Promise<void> {
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    for (const m of this.queue) if (m.header.msg_type === 'execute_request') this.aborted.add(m);
  }
}
