/** The wire codec: frames, signatures over the frames as received, and what gets dropped. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { Codec, DELIMITER } from '../../../kernel/wire/codec.js';
import { Session } from '../../../kernel/wire/message.js';

const session = new Session('s-1', 'test');

describe('Codec', () => {
  it('encodes identities, delimiter, HMAC-SHA256 signature and four JSON frames, and decodes them back', () => {
    const codec = new Codec('secret');
    const msg = session.make('execute_request', { code: '1' }, undefined, [Buffer.from('peer')]);
    msg.buffers = [Buffer.from([1, 2, 3])];
    const frames = codec.encode(msg);
    assert.equal(frames.length, 8);
    assert.deepEqual(frames[0], Buffer.from('peer'));
    assert.deepEqual(frames[1], DELIMITER);
    const expected = createHmac('sha256', 'secret').update(Buffer.concat(frames.slice(3, 7))).digest('hex');
    assert.equal(frames[2].toString(), expected);
    const back = codec.decode(frames)!;
    assert.deepEqual(back.identities, [Buffer.from('peer')]);
    assert.deepEqual(back.header, msg.header);
    assert.deepEqual(back.content, { code: '1' });
    assert.deepEqual(back.buffers, [Buffer.from([1, 2, 3])]);
  });

  it('verifies the frames as received, not a re-serialization', () => {
    const codec = new Codec('secret');
    const frames = codec.encode(session.make('kernel_info_request', {}));
    // Same JSON meaning, different bytes: the old signature must not match.
    const spaced = [...frames]; // [delimiter, signature, header, parent, metadata, content]
    spaced[5] = Buffer.from('{ }');
    assert.equal(codec.decode(spaced), null);
    // Re-signed over the new bytes it is accepted.
    spaced[1] = Buffer.from(createHmac('sha256', 'secret').update(Buffer.concat(spaced.slice(2, 6))).digest('hex'));
    assert.ok(codec.decode(spaced));
  });

  it('drops forged, unsigned and wrong-length signatures when a key is set', () => {
    const codec = new Codec('secret');
    const frames = codec.encode(session.make('kernel_info_request', {}));
    const forged = new Codec('other-key').encode(session.make('kernel_info_request', {}));
    assert.equal(codec.decode(forged), null);
    assert.equal(codec.decode([frames[0], Buffer.alloc(0), ...frames.slice(2)]), null);
    assert.equal(codec.decode([frames[0], frames[1].subarray(0, 10), ...frames.slice(2)]), null);
  });

  it('drops malformed messages: no delimiter, too few frames, bad JSON, header without msg_type', () => {
    const codec = new Codec('');
    const ok = codec.encode(session.make('kernel_info_request', {}));
    assert.ok(codec.decode(ok));
    assert.equal(codec.decode(ok.filter((f) => !f.equals(DELIMITER))), null);
    assert.equal(codec.decode(ok.slice(0, 4)), null);
    const withHeader = (h: string) => [...ok.slice(0, 2), Buffer.from(h), ...ok.slice(3)];
    assert.ok(codec.decode(withHeader(ok[2].toString())));
    assert.equal(codec.decode(withHeader('{not json')), null);
    assert.equal(codec.decode(withHeader('[]')), null);
    assert.equal(codec.decode(withHeader('{"msg_id":"x"}')), null);
  });

  it('uses the connection file scheme, and refuses one node:crypto does not know', () => {
    const codec = new Codec('k', 'hmac-sha512');
    const frames = codec.encode(session.make('kernel_info_request', {}));
    assert.deepEqual(frames[0], DELIMITER);
    assert.equal(frames[1].length, 128);
    assert.ok(codec.decode(frames));
    assert.equal(new Codec('k').decode(frames), null);
    assert.throws(() => new Codec('k', 'hmac-nope'), /signature_scheme "hmac-nope" is not supported/);
  });

  it('signs nothing with an empty key and accepts any signature then', () => {
    const codec = new Codec('');
    const frames = codec.encode(session.make('kernel_info_request', {}));
    assert.equal(frames[1].length, 0);
    frames[1] = Buffer.from('whatever');
    assert.ok(codec.decode(frames));
  });
});
