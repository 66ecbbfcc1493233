/**
 * Jupyter messages as the kernel sees them (messaging protocol 5.3): a header, the header of the
 * request it answers, metadata, content and optional binary buffers, plus the ZeroMQ routing
 * identities that precede the `<IDS|MSG>` delimiter.
 */
import { randomUUID } from 'node:crypto';

export const PROTOCOL_VERSION = '5.3';

export interface Header {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
  [key: string]: unknown;
}

export interface Message<C = Record<string, unknown>> {
  /** Routing identities of the peer (ROUTER sockets) or the topic (iopub). */
  identities: Buffer[];
  header: Header;
  /** `{}` when the message answers nothing. */
  parent_header: Partial<Header>;
  metadata: Record<string, unknown>;
  content: C;
  buffers: Buffer[];
}

/** Who the kernel is when it signs headers: one session id per kernel process. */
export class Session {
  constructor(readonly id: string = randomUUID(), readonly username = 'kernel') {}

  header(msgType: string): Header {
    return {
      msg_id: randomUUID(),
      session: this.id,
      username: this.username,
      date: new Date().toISOString(),
      msg_type: msgType,
      version: PROTOCOL_VERSION,
    };
  }

  /** A message answering `parent` (or none), routed to the parent's identities unless given. */
  make<C>(msgType: string, content: C, parent?: Message<unknown>, identities?: Buffer[],
    metadata: Record<string, unknown> = {}): Message<C> {
    return {
      identities: identities ?? parent?.identities ?? [],
      header: this.header(msgType),
      parent_header: parent ? parent.header : {},
      metadata,
      content,
      buffers: [],
    };
  }
}

/** The reply type of a request type: `execute_request` → `execute_reply`. */
export function replyType(requestType: string): string {
  return requestType.replace(/_request$/, '_reply');
}
