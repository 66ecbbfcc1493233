/**
 * The wire format: `[identities…, '<IDS|MSG>', signature, header, parent_header, metadata,
 * content, buffers…]`. The signature is an HMAC (scheme from the connection file, normally
 * `hmac-sha256`) over the four JSON frames exactly as received, compared in constant time.
 * `decode` returns null for anything forged, unsigned while a key is set, or malformed, so the
 * caller drops it without a reply.
 */
import { createHmac, getHashes, timingSafeEqual } from 'node:crypto';
import type { Header, Message } from './message.js';

export const DELIMITER = Buffer.from('<IDS|MSG>');

export class Codec {
  private readonly algorithm: string;
  private readonly key: Buffer;

  /** `scheme` as in the connection file (`hmac-sha256`, `hmac-md5`, …); an empty key signs nothing. */
  constructor(key: string, scheme = 'hmac-sha256') {
    this.key = Buffer.from(key, 'utf8');
    const m = /^hmac-(.+)$/.exec(scheme);
    const algorithm = m ? m[1] : '';
    if (!getHashes().includes(algorithm)) {
      throw new Error(`connection file: signature_scheme "${scheme}" is not supported. ` +
        `Hint: use "hmac-sha256" (or another hmac-<hash> that node:crypto knows).`);
    }
    this.algorithm = algorithm;
  }

  get signs(): boolean {
    return this.key.length > 0;
  }

  sign(frames: Buffer[]): string {
    if (!this.signs) return '';
    const hmac = createHmac(this.algorithm, this.key);
    for (const f of frames) hmac.update(f);
    return hmac.digest('hex');
  }

  encode(msg: Message<unknown>): Buffer[] {
    const parts = [msg.header, msg.parent_header, msg.metadata, msg.content]
      .map((p) => Buffer.from(JSON.stringify(p ?? {}), 'utf8'));
    return [...msg.identities, DELIMITER, Buffer.from(this.sign(parts)), ...parts, ...msg.buffers];
  }

  decode(frames: Buffer[]): Message | null {
    const at = frames.findIndex((f) => f.equals(DELIMITER));
    if (at < 0 || frames.length < at + 6) return null;
    const signature = frames[at + 1];
    const parts = frames.slice(at + 2, at + 6);
    if (this.signs && !this.verify(signature, parts)) return null;
    try {
      const [header, parent, metadata, content] = parts.map((p) => JSON.parse(p.toString('utf8')));
      if (!isObject(header) || typeof header.msg_type !== 'string' || typeof header.msg_id !== 'string') return null;
      if (!isObject(parent) || !isObject(metadata) || !isObject(content)) return null;
      return {
        identities: frames.slice(0, at),
        header: header as Header,
        parent_header: parent as Partial<Header>,
        metadata,
        content,
        buffers: frames.slice(at + 6),
      };
    } catch {
      return null;
    }
  }

  private verify(signature: Buffer, parts: Buffer[]): boolean {
    const expected = Buffer.from(this.sign(parts));
    // Length is not secret (it depends only on the hash); compare the bytes in constant time.
    return signature.length === expected.length && timingSafeEqual(signature, expected);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
