/**
 * Transports, shutdown and restart, and history kept across restarts: each test spawns its own
 * kernel over real sockets.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestClient } from './client.js';

describe('kernel lifecycle', () => {
  it('serves every channel over the ipc transport', async () => {
    const k = await TestClient.start({ transport: 'ipc' });
    try {
      assert.equal((await k.execute('40 + 2')).reply.content.status, 'ok');
      assert.equal((await k.request('control', 'kernel_info_request')).reply.content.status, 'ok');
      assert.equal(await k.ping('ipc'), 'ipc');
      assert.deepEqual(k.violations, []);
    } finally {
      await k.close();
    }
  });

  for (const restart of [false, true]) {
    it(`shuts down on control with restart=${restart}: reply, idle, then exit 0`, async () => {
      const k = await TestClient.start();
      const ex = await k.request('control', 'shutdown_request', { restart });
      assert.deepEqual(ex.reply.content, { status: 'ok', restart });
      assert.equal(await k.exited, 0);
      await k.close();
      assert.deepEqual(k.violations, []);
    });
  }

  it('keeps history across a restart: tail, range of the last session, search with unique', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'qlora-ts-data-'));
    const first = await TestClient.start({ dataDir });
    await first.execute('const h = 1');
    await first.execute('h + 1');
    await first.execute('h + 1');
    await first.execute('"not stored"', { store_history: false });
    await first.close();

    const k = await TestClient.start({ dataDir });
    try {
      await k.execute('h_second_session = 0', { silent: true });
      const tail = await k.request('shell', 'history_request', { hist_access_type: 'tail', n: 10, output: false, raw: true });
      const items = tail.reply.content.history as [number, number, string][];
      assert.deepEqual(items.map((h) => [h[1], h[2]]), [[1, 'const h = 1'], [2, 'h + 1'], [3, 'h + 1']]);
      const session = items[0][0];
      const range = await k.request('shell', 'history_request', { hist_access_type: 'range', session: -1, start: 2, stop: 3, output: true, raw: true });
      assert.deepEqual(range.reply.content.history, [[session, 2, ['h + 1', '2']]]);
      const search = await k.request('shell', 'history_request', { hist_access_type: 'search', pattern: '*h*', unique: true, n: 10, output: false, raw: true });
      assert.deepEqual((search.reply.content.history as unknown[][]).map((h) => h[1]), [1, 3]);
      assert.deepEqual(k.violations, []);
    } finally {
      await k.close();
    }
  });
});
