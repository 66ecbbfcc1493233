/**
 * The kernel's sockets: shell and stdin ROUTERs and the iopub PUB on the main thread, control
 * and heartbeat in a worker thread (control-worker.ts). Every socket sends through one queue.
 * Incoming messages are decoded and verified here; what fails is dropped without a word.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import * as zmq from 'zeromq';
import { Codec } from './wire/codec.js';
import { Session, type Message } from './wire/message.js';
import { SendQueue } from './wire/send-queue.js';
import { endpoint, type ConnectionInfo } from './connection.js';
import type { FromMain, ToMain } from './control-worker.js';

export interface ServerHandlers {
  shell(msg: Message): void;
  stdin(msg: Message): void;
  control(msg: Message, interrupted: boolean): void;
}

export class KernelServer {
  readonly session = new Session();
  private readonly codec: Codec;
  private readonly shell = new zmq.Router({ linger: 0 });
  private readonly stdin = new zmq.Router({ linger: 0 });
  private readonly iopub = new zmq.Publisher({ linger: 1000 });
  private readonly queues: Record<'shell' | 'stdin' | 'iopub', SendQueue>;
  private worker: Worker | undefined;

  constructor(private readonly info: ConnectionInfo) {
    this.codec = new Codec(info.key, info.signature_scheme);
    this.queues = { shell: new SendQueue(this.shell), stdin: new SendQueue(this.stdin), iopub: new SendQueue(this.iopub) };
  }

  async start(handlers: ServerHandlers): Promise<void> {
    await Promise.all([
      this.shell.bind(endpoint(this.info, 'shell')),
      this.stdin.bind(endpoint(this.info, 'stdin')),
      this.iopub.bind(endpoint(this.info, 'iopub')),
      this.startWorker(handlers),
    ]);
    void this.receive(this.shell, handlers.shell);
    void this.receive(this.stdin, handlers.stdin);
  }

  /** Sends a reply (or request) on a ROUTER channel, to `msg.identities`. */
  send(channel: 'shell' | 'stdin' | 'control', msg: Message<unknown>): Promise<void> {
    const frames = this.codec.encode(msg);
    if (channel !== 'control') return this.queues[channel].send(frames);
    this.worker?.postMessage({ kind: 'send', frames } satisfies FromMain);
    return Promise.resolve();
  }

  /** Publishes on iopub; the topic frame is `kernel.<session>.<msg_type>`, as ipykernel names it. */
  publish(msg: Message<unknown>): Promise<void> {
    msg.identities = [Buffer.from(`kernel.${this.session.id}.${msg.header.msg_type}`)];
    return this.queues.iopub.send(this.codec.encode(msg));
  }

  /** Resolves once every iopub message queued so far has been handed to ZeroMQ. */
  drainIopub(): Promise<void> {
    return this.queues.iopub.drain();
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.queues).map((q) => q.drain()));
    if (this.worker) {
      const worker = this.worker;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 500);
        worker.once('message', () => { clearTimeout(timer); resolve(); });
        worker.postMessage({ kind: 'close' } satisfies FromMain);
      });
      await worker.terminate();
    }
    for (const s of [this.shell, this.stdin, this.iopub]) s.close();
  }

  private startWorker(handlers: ServerHandlers): Promise<void> {
    const worker = new Worker(join(__dirname, 'control-worker.js'), {
      workerData: { info: this.info, sessionId: this.session.id },
    });
    this.worker = worker;
    return new Promise((resolve, reject) => {
      worker.once('error', reject);
      worker.on('message', (m: ToMain) => {
        if (m.kind === 'ready') return resolve();
        if (m.kind !== 'control') return;
        const msg = this.codec.decode(m.frames.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength)));
        if (msg) handlers.control(msg, m.interrupted);
      });
    });
  }

  private async receive(socket: zmq.Router, handle: (msg: Message) => void): Promise<void> {
    try {
      for await (const frames of socket) {
        const msg = this.codec.decode(frames);
        if (msg) handle(msg);
      }
    } catch { /* socket closed */ }
  }
}
