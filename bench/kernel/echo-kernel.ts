/**
 * The floor under any kernel's round trip on this machine: a process that speaks the wire
 * protocol with the kernel's own codec and ZeroMQ sockets but executes nothing. An execute_request
 * gets exactly what the real kernel sends for `1 + 1` (busy, execute_input, execute_result, the
 * reply, idle), signed; kernel_info_request gets a reply and idle so clients see it as ready.
 * Control and heartbeat are not served. Benchmarks only:
 *
 *   node dist/bench/kernel/echo-kernel.js <connection_file>
 */
import * as zmq from 'zeromq';
import { endpoint, readConnectionFile } from '../../kernel/connection.js';
import { Codec } from '../../kernel/wire/codec.js';
import { Session, replyType, type Message } from '../../kernel/wire/message.js';
import { SendQueue } from '../../kernel/wire/send-queue.js';

async function main(file: string): Promise<void> {
  const info = readConnectionFile(file);
  const codec = new Codec(info.key, info.signature_scheme);
  const session = new Session();
  const shell = new zmq.Router({ linger: 0 });
  const iopub = new zmq.Publisher({ linger: 0 });
  await shell.bind(endpoint(info, 'shell'));
  await iopub.bind(endpoint(info, 'iopub'));
  const replies = new SendQueue(shell), outputs = new SendQueue(iopub);
  const publish = (parent: Message, type: string, content: Record<string, unknown>) => {
    const msg = session.make(type, content, parent, [Buffer.from(`kernel.${session.id}.${type}`)]);
    return outputs.send(codec.encode(msg));
  };
  let count = 0;
  for await (const frames of shell) {
    const msg = codec.decode(frames);
    if (!msg) continue;
    void publish(msg, 'status', { execution_state: 'busy' });
    let content: Record<string, unknown>;
    if (msg.header.msg_type === 'execute_request') {
      count++;
      void publish(msg, 'execute_input', { code: msg.content.code, execution_count: count });
      void publish(msg, 'execute_result', { data: { 'text/plain': '2' }, metadata: {}, execution_count: count });
      content = { status: 'ok', execution_count: count, user_expressions: {} };
    } else {
      content = { status: 'ok', protocol_version: '5.3', implementation: 'echo', implementation_version: '0',
        language_info: { name: 'none' }, banner: '' };
    }
    await outputs.drain();
    await replies.send(codec.encode(session.make(replyType(msg.header.msg_type), content, msg)));
    await publish(msg, 'status', { execution_state: 'idle' });
  }
}

void main(process.argv[2]);
