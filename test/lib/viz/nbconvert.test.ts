import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { lossCurve, rougeBars } from '../../../lib/viz/charts';
import { resetPlotlyInline } from '../../../lib/viz/plotly_source';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../../lib/viz/render';
import { sampleLogHistory } from './samples';

/** A notebook as the kernel writes it: one display_data output per figure, in two cells. */
function notebook(bundles: Record<string, unknown>[]): string {
  return JSON.stringify({
    nbformat: 4, nbformat_minor: 5,
    metadata: { kernelspec: { name: 'qlora-ts', display_name: 'TypeScript (qlora-ts)', language: 'typescript' } },
    cells: bundles.map((data, i) => ({ cell_type: 'code', id: `cell-${i}`, execution_count: i + 1, metadata: {}, source: `fig${i}.show()`,
      outputs: [{ output_type: 'display_data', data, metadata: {} }] })),
  });
}

test('nbconvert HTML export draws every figure offline (plotly.js carried by the first output only)', async () => {
  resetPlotlyInline();
  const bundles = [lossCurve(sampleLogHistory()).bundle(), rougeBars({ A: { rouge1: 0.3, rouge2: 0.1 }, B: { rouge1: 0.4, rouge2: 0.2 } }).bundle()];
  const dir = mkdtempSync(join(tmpdir(), 'qlora-ts-nbconvert-'));
  writeFileSync(join(dir, 'figures.ipynb'), notebook(bundles));
  execFileSync('/usr/bin/python3', ['-m', 'nbconvert', '--to', 'html', join(dir, 'figures.ipynb')], { stdio: 'pipe' });
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
  try {
    const page = await browser.newPage();
    // The export links CDN scripts (require.js, MathJax) that cannot load here; the figures must not need them.
    await page.route(/^https?:/, (route) => route.abort());
    await page.goto(pathToFileURL(join(dir, 'figures.html')).href, { waitUntil: 'domcontentloaded' });
    // Expressions run in the page (this file is compiled without the DOM library).
    await page.waitForFunction("document.querySelectorAll('.qlora-ts-figure .main-svg').length >= 2", undefined, { timeout: 60_000 });
    const traces = await page.evaluate("[...document.querySelectorAll('.qlora-ts-figure')].map((el) => el.querySelectorAll('.trace').length)");
    assert.deepEqual(traces, [2, 2]);
  } finally {
    await browser.close();
  }
});
