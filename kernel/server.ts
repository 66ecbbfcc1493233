/**
 * The kernel's sockets: shell and stdin ROUTERs and the iopub PUB in this process, control and
 * heartbeat in a child process (control-process.ts). Every socket sends through one queue.
 * Incoming messages are decoded and verified here; what fails is dropped without a word.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { Codec } from './wire/codec.js';
import { Session, type Message } from './wire/message.js';
import { SendQueue } from './wire/send-queue.js';
import { endpoint, type ConnectionInfo } from './connection.js';
import { CONTROL_ENV, type FromKernel, type ToKernel } from './control-process.js';

const asBuffers = (frames: Uint8Array[]) => frames.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength));

export interface ServerHandlers {
  shell(msg: Message): void;
  stdin(msg: Message): void;
  /** `at`: when the control process received it (Date.now()), so an interrupt only stops cells begun earlier. */
  control(msg: Message, interrupted: boolean, at: number): void;
}

export class KernelServer {
  readonly session = new Session();
  private readonly codec: Codec;
  private readonly shell = new zmq.Router({ linger: 0 });
  private readonly stdin = new zmq.Router({ linger: 0 });
  private readonly iopub = new zmq.Publisher({ linger: 1000 });
  private readonly queues: Record<'shell' | 'stdin' | 'iopub', SendQueue>;
  private child: ChildProcess | undefined;

  constructor(private readonly info: ConnectionInfo) {
    this.codec = new Codec(info.key, info.signature_scheme);
    this.queues = { shell: new SendQueue(this.shell), stdin: new SendQueue(this.stdin), iopub: new SendQueue(this.iopub) };
  }

  /**
   * Binds shell, stdin and iopub and starts serving them, then starts the control process (not
   * awaited: kernel_info on shell is answered while it boots). Forking it only after the binds
   * keeps its start-up (a second Node) off the path to the first idle on a 2-core machine.
   * `controlReady` resolves when control and heartbeat are bound.
   */
  async start(handlers: ServerHandlers): Promise<void> {
    await Promise.all([
      this.shell.bind(endpoint(this.info, 'shell')),
      this.stdin.bind(endpoint(this.info, 'stdin')),
      this.iopub.bind(endpoint(this.info, 'iopub')),
    ]);
    void this.receive(this.shell, handlers.shell);
    void this.receive(this.stdin, handlers.stdin);
    this.controlReady = this.startControl(handlers);
    this.controlReady.catch((e: Error) => process.stderr.write(`qlora-ts kernel: ${e.message}\n`));
  }

  controlReady: Promise<void> = Promise.resolve();

  /** Sends a reply (or request) on a ROUTER channel, to `msg.identities`. */
  send(channel: 'shell' | 'stdin' | 'control', msg: Message<unknown>): Promise<void> {
    const frames = this.codec.encode(msg);
    if (channel !== 'control') return this.queues[channel].send(frames);
    this.toControl({ kind: 'send', frames });
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

  /** Tells the control process which cell runs (an id) or that none does (null). */
  cellRunning(id: number | null): void {
    this.toControl({ kind: 'cell', running: id });
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.queues).map((q) => q.drain()));
    const child = this.child;
    if (child && child.exitCode === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(); }, 1000);
        child.once('exit', () => { clearTimeout(timer); resolve(); });
        this.toControl({ kind: 'close' });
      });
    }
    for (const s of [this.shell, this.stdin, this.iopub]) s.close();
  }

  private toControl(m: FromKernel): void {
    if (this.child?.connected) this.child.send(m);
  }

  private startControl(handlers: ServerHandlers): Promise<void> {
    // Required here: node:child_process is not needed before the first idle.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { fork } = require('node:child_process') as typeof import('node:child_process');
    const child = fork(join(__dirname, 'control-process.js'), [], {
      env: { ...process.env, [CONTROL_ENV]: JSON.stringify({ info: this.info, sessionId: this.session.id }) },
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child = child;
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`the control process exited (${code}) before it was ready`)));
      child.on('message', (m: ToKernel) => {
        if (m.kind === 'ready') return resolve();
        if (m.kind !== 'control') return;
        const msg = this.codec.decode(asBuffers(m.frames));
        if (msg) handlers.control(msg, m.interrupted, m.at);
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
