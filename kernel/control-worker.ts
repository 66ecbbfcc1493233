/**
 * The control and heartbeat channels, served off the main thread so they answer while a cell
 * blocks the main thread in a synchronous loop. An interrupt_request is handled here: the reply
 * goes out at once and the main thread gets SIGINT (which breaks a running vm script) plus a
 * message (which aborts a pending await). Every other control request is handed to the main
 * thread, which posts back the frames to send.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as zmq from 'zeromq';
import { Codec } from './wire/codec.js';
import { Session } from './wire/message.js';
import { SendQueue } from './wire/send-queue.js';
import { endpoint, type ConnectionInfo } from './connection.js';

export type ToMain =
  | { kind: 'ready' }
  | { kind: 'control'; frames: Uint8Array[]; interrupted: boolean }
  | { kind: 'closed' };
export type FromMain = { kind: 'send'; frames: Uint8Array[] } | { kind: 'close' };

const asBuffers = (frames: Uint8Array[]) => frames.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength));

async function main({ info, sessionId }: { info: ConnectionInfo; sessionId: string }): Promise<void> {
  const port = parentPort!;
  const codec = new Codec(info.key, info.signature_scheme);
  const session = new Session(sessionId);
  const control = new zmq.Router({ linger: 0 });
  const hb = new zmq.Reply({ linger: 0 });
  await control.bind(endpoint(info, 'control'));
  await hb.bind(endpoint(info, 'hb'));
  const out = new SendQueue(control);

  port.on('message', (m: FromMain) => {
    if (m.kind === 'send') void out.send(asBuffers(m.frames));
    else void out.drain().then(() => { control.close(); hb.close(); port.postMessage({ kind: 'closed' } satisfies ToMain); });
  });

  void (async () => {
    try {
      for await (const frames of hb) await hb.send(frames);
    } catch { /* closed */ }
  })();

  port.postMessage({ kind: 'ready' } satisfies ToMain);
  try {
    for await (const frames of control) {
      const msg = codec.decode(frames);
      if (!msg) continue;
      const interrupted = msg.header.msg_type === 'interrupt_request';
      if (interrupted) {
        process.kill(process.pid, 'SIGINT');
        void out.send(codec.encode(session.make('interrupt_reply', { status: 'ok' }, msg)));
      }
      port.postMessage({ kind: 'control', frames, interrupted } satisfies ToMain);
    }
  } catch { /* closed */ }
}

void main(workerData);
