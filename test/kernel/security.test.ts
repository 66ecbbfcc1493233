/**
 * Signed messages over real sockets: a forged, unsigned or malformed request gets no reply and
 * does not stop the kernel; another signature scheme and an empty key work end to end.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient } from './client.js';
import { Codec } from '../../kernel/wire/codec.js';

async function noReplyTo(k: TestClient, frames: Buffer[], msgId: string): Promise<void> {
  const answered = k.waitFor((m) => m.parent_header.msg_id === msgId, 500).then(() => true, () => false);
  await k.sockets.shell.send(frames);
  assert.equal(await answered, false, 'the kernel answered a message it should have dropped');
}

describe('message security', () => {
  it('drops forged, unsigned and malformed messages and keeps serving', async () => {
    const k = await TestClient.start({ key: 'the-real-key' });
    try {
      const forged = k.session.make('execute_request', { code: 'globalThis.pwned = 1', silent: false });
      await noReplyTo(k, new Codec('a-guessed-key').encode(forged), forged.header.msg_id);
      const unsigned = k.session.make('kernel_info_request', {});
      const frames = new Codec('').encode(unsigned);
      await noReplyTo(k, frames, unsigned.header.msg_id);
      const garbage = k.session.make('kernel_info_request', {});
      const bad = k.codec.encode(garbage);
      await noReplyTo(k, [bad[0], bad[1], bad[2], Buffer.from('{broken'), bad[4], bad[5], bad[6]], garbage.header.msg_id);
      await k.sockets.shell.send([Buffer.from('no delimiter at all')]);
      await k.sockets.control.send([Buffer.from('<IDS|MSG>'), Buffer.from('x')]);
      // Still alive and serving; the forged cell never ran.
      const ex = await k.execute('typeof (globalThis as any).pwned');
      assert.deepEqual(ex.iopub.find((m) => m.header.msg_type === 'execute_result')!.content.data, { 'text/plain': "'undefined'" });
      assert.equal(await k.ping(), 'ping');
      assert.deepEqual(k.violations, []);
    } finally {
      await k.close();
    }
  });

  it('signs with the scheme of the connection file (hmac-sha512)', async () => {
    const k = await TestClient.start({ scheme: 'hmac-sha512' });
    try {
      const ex = await k.request('shell', 'kernel_info_request');
      assert.equal(ex.reply.content.status, 'ok');
      assert.deepEqual(k.violations, []);
    } finally {
      await k.close();
    }
  });

  it('works unsigned when the connection file has an empty key', async () => {
    const k = await TestClient.start({ key: '' });
    try {
      assert.equal((await k.execute('1 + 1')).reply.content.status, 'ok');
      assert.deepEqual(k.violations, []);
    } finally {
      await k.close();
    }
  });
});
