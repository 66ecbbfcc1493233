import { test, before, after } from 'node:test';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { lossCurve, rougeBars } from '../../../lib/viz/charts';
import { resetPlotlyInline } from '../../../lib/viz/plotly_source';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../../lib/viz/render';
import { sampleLogHistory } from './samples';
import { tempDir } from '../../tmp';

/** A notebook as the kernel writes it: one display_data output per figure, in two cells. */
function notebook(bundles: Record<string, unknown>[]): string {
  return JSON.stringify({
    nbformat: 4, nbformat_minor: 5,
    metadata: { kernelspec: { name: 'qlora-ts', display_name: 'TypeScript (qlora-ts)', language: 'typescript' } },
    cells: bundles.map((data, i) => ({ cell_type: 'code', id: `cell-${i}`, execution_count: i + 1, metadata: {}, source: `fig${i}.show()`,
      outputs: [{ output_type: 'display_data', data, metadata: {} }] })),
  });
}

let browser: Browser;
before(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
});
after(() => browser.close());

test('nbconvert HTML export draws every figure offline (plotly.js carried by the first output only)', async () => {
  resetPlotlyInline();
  const bundles = [lossCurve(sampleLogHistory()).bundle(), rougeBars({ A: { rouge1: 0.3, rouge2: 0.1 }, B: { rouge1: 0.4, rouge2: 0.2 } }).bundle()];
  const dir = tempDir('nbconvert');
  writeFileSync(join(dir, 'figures.ipynb'), notebook(bundles));
  execFileSync('/usr/bin/python3', ['-m', 'nbconvert', '--to', 'html', join(dir, 'figures.ipynb')], { stdio: 'pipe' });
  {
    const page = await browser.newPage();
    // The export links CDN scripts (require.js, MathJax) that cannot load here; the figures must not need them.
    await page.route(/^https?:/, (route) => route.abort());
    await page.goto(pathToFileURL(join(dir, 'figures.html')).href, { waitUntil: 'domcontentloaded' });
    // Expressions run in the page (this file is compiled without the DOM library).
    await page.waitForFunction("[...document.querySelectorAll('.qlora-ts-figure')].filter((el) => el.querySelector('.main-svg')).length === 2", undefined, { timeout: 60_000 });
    const traces = await page.evaluate("[...document.querySelectorAll('.qlora-ts-figure')].map((el) => el.querySelectorAll('.trace').length)");
    assert.deepEqual(traces, [2, 2]);
    await page.close();
  }
});

test('a figure on a page without plotly.js loads the copy an earlier carrier left in IndexedDB', async () => {
  resetPlotlyInline();
  const fig = rougeBars({ A: { rouge1: 0.3 }, B: { rouge1: 0.4 } });
  const pages: Record<string, string> = {
    '/carrier.html': `<!doctype html><html><body>${fig.toHtml()}</body></html>`,
    '/later.html': `<!doctype html><html><body>${fig.toHtml()}</body></html>`,
  };
  assert.ok(pages['/carrier.html'].includes('/* plotly.js') && !pages['/later.html'].includes('/* plotly.js'));
  const server: Server = createServer((req, res) => {
    res.writeHead(pages[req.url ?? ''] ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
    res.end(pages[req.url ?? ''] ?? '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const page = await browser.newPage();
    // Before any carrier ran: no copy, so the figure explains itself.
    await page.goto(`${origin}/later.html`);
    await page.waitForFunction("document.querySelector('.qlora-ts-figure').textContent.includes('resetPlotlyInline')", undefined, { timeout: 30_000 });
    await page.goto(`${origin}/carrier.html`);
    await page.waitForFunction("document.querySelector('.qlora-ts-figure .main-svg') !== null", undefined, { timeout: 60_000 });
    await page.waitForFunction("new Promise((ok) => { const r = indexedDB.open('qlora-ts', 1); r.onsuccess = () => { const g = r.result.transaction('lib').objectStore('lib').get('plotly.js 3.1.2'); g.onsuccess = () => ok(!!g.result); }; })", undefined, { timeout: 30_000 });
    await page.goto(`${origin}/later.html`);
    await page.waitForFunction("document.querySelector('.qlora-ts-figure .main-svg') !== null", undefined, { timeout: 60_000 });
    assert.equal(await page.evaluate("document.querySelectorAll('.qlora-ts-figure .trace').length"), 2);
    await page.close();
  } finally {
    server.close();
  }
});
