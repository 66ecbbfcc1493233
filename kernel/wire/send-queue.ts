/**
 * One queue per socket: zeromq.js 6 rejects a `send()` with EBUSY while the previous one is still
 * pending, so every send of a socket goes through this chain and awaits the one before it.
 * `drain()` resolves once everything queued so far has been handed to ZeroMQ, which is how the
 * kernel publishes all outputs before the reply and before idle.
 */
import type { Writable } from 'zeromq';

export class SendQueue {
  private tail: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly socket: Writable, private readonly onError: (e: unknown) => void = () => {}) {}

  send(frames: Buffer[]): Promise<void> {
    if (this.closed) return this.tail;
    this.tail = this.tail.then(() => this.socket.send(frames)).catch((e) => this.onError(e));
    return this.tail;
  }

  drain(): Promise<void> {
    return this.tail;
  }

  close(): void {
    this.closed = true;
  }
}
