/**
 * `input()` for cells: an input_request on the stdin channel to the frontend that sent the
 * execute_request, answered by its input_reply. An interrupt rejects the pending prompt.
 */
import type { Message } from './wire/message.js';
import type { KernelServer } from './server.js';

export class StdinChannel {
  private pending: { resolve(v: string): void } | undefined;

  constructor(private readonly server: KernelServer) {}

  request(parent: Message, prompt: string, password: boolean, signal: AbortSignal): Promise<string> {
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.pending = undefined;
        reject(Object.assign(new Error('input interrupted'), { name: 'KeyboardInterrupt' }));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.pending = {
        resolve: (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
      };
      const msg = this.server.session.make('input_request', { prompt, password }, parent);
      void this.server.send('stdin', msg);
    });
  }

  /** An input_reply from the frontend; anything else on stdin is ignored. */
  receive(msg: Message): void {
    if (msg.header.msg_type !== 'input_reply' || !this.pending) return;
    const p = this.pending;
    this.pending = undefined;
    p.resolve(typeof msg.content.value === 'string' ? msg.content.value : '');
  }
}
