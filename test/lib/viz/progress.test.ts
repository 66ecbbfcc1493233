import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sinkSymbol, displaySymbol, type MimeBundle } from '../../../lib/display';
import { ProgressBar } from '../../../lib/viz/progress';

test('progress bar text: percent, bar, count, elapsed<remaining, rate, postfix', () => {
  let clock = 0;
  const bar = new ProgressBar({ total: 100, desc: 'generate', now: () => clock, width: 10 });
  clock = 12_000;
  bar.update(45, 'rouge1=0.42');
  assert.equal(bar.text(), 'generate:  45%|████▌     | 45/100 [00:12<00:15, 3.75it/s, rouge1=0.42]');
  const open = new ProgressBar({ desc: 'quantize', unit: 'tensor', now: () => clock });
  open.set(3);
  assert.match(open.text(), /^quantize: 3tensor \[00:00, \?tensor\/s\]$/);
});

test('progress bar in a notebook: one display id, updated in place, text/plain and text/html', () => {
  const calls: { bundle: MimeBundle; options?: { displayId?: string; update?: boolean } }[] = [];
  const g = globalThis as Record<symbol, unknown>;
  g[sinkSymbol] = { display: (bundle: MimeBundle, options?: { displayId?: string; update?: boolean }) => calls.push({ bundle, options }), clear: () => undefined };
  try {
    let clock = 0;
    const rows = Array.from({ length: 10 }, (_, i) => i);
    let sum = 0;
    for (const r of ProgressBar.wrap(rows, { desc: 'rows', minIntervalMs: 0, now: () => (clock += 10) })) sum += r;
    assert.equal(sum, 45);
    assert.equal(calls[0].options?.update, false);
    assert.ok(calls.slice(1).every((c) => c.options?.update === true && c.options.displayId === calls[0].options?.displayId));
    const last = calls.at(-1)!.bundle;
    assert.match(last['text/plain'] as string, /^rows: 100%\|█+\| 10\/10 /);
    assert.match(last['text/html'] as string, /width:100\.0%/);
    const bar = new ProgressBar({ total: 2, minIntervalMs: 1e9 });
    const before = calls.length;
    bar.update();
    assert.equal(calls.length, before, 'throttled redraw skipped');
    bar.update();
    assert.equal(calls.length, before + 1, 'reaching the total always draws');
    assert.deepEqual(Object.keys(bar[displaySymbol]()).sort(), ['text/html', 'text/plain']);
  } finally {
    delete g[sinkSymbol];
  }
});
