/**
 * Figures and progress bars inside the kernel's cell executor: a cell's last value renders with
 * the plotly MIME bundle, `show()` and a ProgressBar publish through the sink the executor
 * installs while the cell runs (display_data, then update_display_data on one display id).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Executor } from '../../../kernel/exec/executor.js';
import type { ExecHooks } from '../../../kernel/exec/executor.js';
import { repoRoot } from './snapshot';

type Display = { bundle: Record<string, unknown>; opts?: { displayId?: string; update?: boolean } };

/** The library as this build compiled it (the cell requires it by path). */
const LIB = join(__dirname, '..', '..', '..', 'lib', 'index.js');

async function cell(ex: Executor, code: string): Promise<{ displays: Display[]; value: unknown; status: string }> {
  const displays: Display[] = [];
  const hooks: ExecHooks = {
    stdout: () => undefined,
    stderr: () => undefined,
    display: (bundle, opts) => void displays.push({ bundle, opts }),
    clear: () => undefined,
    input: async () => '',
    signal: new AbortController().signal,
  };
  const result = await ex.execute(code, hooks);
  return { displays, value: result.status === 'ok' && result.hasValue ? result.value : undefined, status: result.status };
}

test('in a notebook cell: figure value, fig.show(), ProgressBar updates in place', async () => {
  const ex = new Executor({ cwd: join(repoRoot(), 'test', 'lib', 'viz') });
  const setup = await cell(ex, `const q = require(${JSON.stringify(LIB)});\nq.resetPlotlyInline();`);
  assert.equal(setup.status, 'ok');
  const shown = await cell(ex, 'q.lossCurve([{ loss: 2, step: 1 }, { loss: 1.5, step: 2 }, { eval_loss: 1.7, step: 2 }])');
  const bundle = ex.formatValue(shown.value);
  assert.ok('application/vnd.plotly.v1+json' in bundle && 'text/html' in bundle);
  assert.ok((bundle['text/html'] as string).includes('/* plotly.js'), 'the first figure carries plotly.js');
  const show = await cell(ex, 'q.rougeBars({ A: { rouge1: 0.3 }, B: { rouge1: 0.4 } }).show()');
  assert.equal(show.displays.length, 1);
  assert.ok(!(show.displays[0].bundle['text/html'] as string).includes('/* plotly.js'), 'later figures use window.Plotly');
  const progress = await cell(ex, 'const bar = new q.ProgressBar({ total: 3, desc: "generate", minIntervalMs: 0 });\nfor (let i = 0; i < 3; i++) bar.update();\nbar.close();');
  assert.equal(progress.status, 'ok');
  const ids = new Set(progress.displays.map((d) => d.opts?.displayId));
  assert.equal(ids.size, 1);
  assert.deepEqual(progress.displays.map((d) => d.opts?.update), [false, true, true, true, true]);
  assert.match(progress.displays.at(-1)!.bundle['text/plain'] as string, /^generate: 100%\|█+\| 3\/3 /);
});
