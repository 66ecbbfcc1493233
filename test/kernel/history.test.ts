/** The history store: sessions across restarts, tail, range and glob search with unique. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HistoryStore } from '../../kernel/history.js';

const fresh = () => join(mkdtempSync(join(tmpdir(), 'qlora-ts-hist-')), 'history.jsonl');

describe('HistoryStore', () => {
  it('numbers sessions across restarts and keeps earlier entries', () => {
    const file = fresh();
    const first = new HistoryStore(file);
    first.append(1, 'const a = 1', undefined);
    first.append(2, 'a + 1', '2');
    const second = new HistoryStore(file);
    assert.equal(second.session, first.session + 1);
    second.append(1, 'a * 3');
    assert.deepEqual(second.tail(10, false), [[first.session, 1, 'const a = 1'], [first.session, 2, 'a + 1'], [second.session, 1, 'a * 3']]);
    assert.deepEqual(second.tail(1, true), [[second.session, 1, ['a * 3', null]]]);
  });

  it('serves ranges of a session, counting back from the current one', () => {
    const file = fresh();
    const first = new HistoryStore(file);
    for (let i = 1; i <= 4; i++) first.append(i, `cell ${i}`);
    const now = new HistoryStore(file);
    now.append(1, 'now 1');
    assert.deepEqual(now.range(-1, 2, 4, false), [[first.session, 2, 'cell 2'], [first.session, 3, 'cell 3']]);
    assert.deepEqual(now.range(first.session, 3, 0, false), [[first.session, 3, 'cell 3'], [first.session, 4, 'cell 4']]);
    assert.deepEqual(now.range(0, 1, 0, true), [[now.session, 1, ['now 1', null]]]);
  });

  it('searches with glob patterns, the last n hits, unique keeping the newest', () => {
    const store = new HistoryStore(fresh());
    ['x = 1', 'print(x)', 'x = 1', 'y = 2', 'x = 3'].forEach((s, i) => store.append(i + 1, s));
    assert.deepEqual(store.search('x = *', undefined, false, false).map((h) => h[1]), [1, 3, 5]);
    assert.deepEqual(store.search('x = *', undefined, true, false).map((h) => h[1]), [3, 5]);
    assert.deepEqual(store.search('?????', 2, false, false).map((h) => h[1]), [4, 5]);
    assert.deepEqual(store.search('print(*)', undefined, false, false).map((h) => h[2]), ['print(x)']);
  });

  it('skips a torn last line from a crash', () => {
    const file = fresh();
    new HistoryStore(file).append(1, 'ok');
    appendFileSync(file, '{"session": 1, "li');
    const store = new HistoryStore(file);
    assert.deepEqual(store.tail(5, false).map((h) => h[2]), ['ok']);
  });
});
