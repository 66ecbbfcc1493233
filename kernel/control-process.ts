/**
 * The control and heartbeat channels, served by a small child process so they answer while a
 * cell blocks the kernel's main thread in a synchronous loop. An interrupt_request is handled
 * here: the reply goes out at once, and the kernel gets SIGINT (which breaks a running vm script)
 * plus a message (which aborts a pending await). When the kernel interrupts through
 * breakOnSigint (no SIGINT addon), it says which cell runs, and SIGINT is repeated every 100 ms
 * while that cell still runs, since a signal that lands just before the cell's script starts is
 * consumed by the kernel's listener instead of breaking the script. The addon needs one signal. Every other control request is handed
 * to the kernel, which sends back the frames to reply with.
 *
 * A child process rather than a worker thread: with a worker thread in the process, Node loses
 * or mis-delivers some SIGINTs sent while a `breakOnSigint` script runs (measured here).
 */
import * as zmq from 'zeromq';
import { Codec } from './wire/codec.js';
import { Session } from './wire/message.js';
import { SendQueue } from './wire/send-queue.js';
import { endpoint, type ConnectionInfo } from './connection.js';

export type ToKernel =
  | { kind: 'ready' }
  | { kind: 'control'; frames: Uint8Array[]; interrupted: boolean; at: number };
export type FromKernel =
  | { kind: 'send'; frames: Uint8Array[] }
  | { kind: 'cell'; running: number | null }
  | { kind: 'close' };

export const CONTROL_ENV = 'QLORA_TS_KERNEL_CONTROL';
const REPEAT_MS = 100;
const REPEATS = 50;

const asBuffers = (frames: Uint8Array[]) => frames.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength));

async function main({ info, sessionId }: { info: ConnectionInfo; sessionId: string }): Promise<void> {
  const send = (m: ToKernel) => { if (process.connected) process.send?.(m); };
  const codec = new Codec(info.key, info.signature_scheme);
  const session = new Session(sessionId);
  const control = new zmq.Router({ linger: 0 });
  const hb = new zmq.Reply({ linger: 0 });
  await control.bind(endpoint(info, 'control'));
  await hb.bind(endpoint(info, 'hb'));
  const out = new SendQueue(control);
  let running: number | null = null;

  const interrupt = () => {
    const cell = running;
    process.kill(process.ppid, 'SIGINT');
    if (cell === null) return;
    let left = REPEATS;
    const timer = setInterval(() => {
      if (running !== cell || --left <= 0) return clearInterval(timer);
      process.kill(process.ppid, 'SIGINT');
    }, REPEAT_MS);
  };

  process.on('message', (m: FromKernel) => {
    if (m.kind === 'send') void out.send(asBuffers(m.frames));
    else if (m.kind === 'cell') running = m.running;
    else void out.drain().then(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0));

  void (async () => {
    try {
      for await (const frames of hb) await hb.send(frames);
    } catch { /* closed */ }
  })();

  send({ kind: 'ready' });
  for await (const frames of control) {
    const msg = codec.decode(frames);
    if (!msg) continue;
    const interrupted = msg.header.msg_type === 'interrupt_request';
    const at = Date.now();
    if (interrupted) {
      interrupt();
      void out.send(codec.encode(session.make('interrupt_reply', { status: 'ok' }, msg)));
    }
    send({ kind: 'control', frames, interrupted, at });
  }
}

if (require.main === module) {
  // A SIGINT sent to the kernel's process group (Jupyter's signal interrupt) is the kernel's business.
  process.on('SIGINT', () => {});
  void main(JSON.parse(process.env[CONTROL_ENV] ?? '{}'));
}
