import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rougeBars } from '../../../lib/viz/charts';
import { closeRenderer } from '../../../lib/viz/render';
import { decodePng } from './png';
import { sinkSymbol, type MimeBundle } from '../../../lib/display';
import { tempDir } from '../../tmp';

after(() => closeRenderer());

test('PNG and SVG rendered by headless chromium: signature, size, not blank', async () => {
  const fig = rougeBars({
    'ORIGINAL MODEL': { rouge1: 0.289, rouge2: 0.099, rougeL: 0.211, rougeLsum: 0.222 },
    'PEFT MODEL': { rouge1: 0.421, rouge2: 0.162, rougeL: 0.289, rougeLsum: 0.306 },
  });
  const dir = tempDir('png');
  const png = await fig.toPng(join(dir, 'rouge.png'), { width: 640, height: 360, scale: 1 });
  assert.ok(readFileSync(join(dir, 'rouge.png')).equals(png));
  const { width, height, pixels, channels } = decodePng(png);
  assert.deepEqual([width, height], [640, 360]);
  const colors = new Set<number>();
  for (let i = 0; i < pixels.length; i += channels) colors.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
  assert.ok(colors.size >= 8, `${colors.size} distinct colours`);
  // The two bar colours of the palette are there (grey baseline, blue fine-tuned).
  assert.ok(colors.has(0x8c8c8c) && colors.has(0x0072b2), 'bar colours drawn');
  const svg = await fig.toSvg(undefined, { width: 640, height: 360 });
  assert.match(svg, /^<svg[^>]*width="640"/);
  assert.ok(svg.includes('PEFT MODEL'));
  const big = decodePng(await fig.toPng(undefined, { width: 320, height: 200, scale: 2 }));
  assert.deepEqual([big.width, big.height], [640, 400]);
});

test('display({ png: true }) adds image/png (base64) to the bundle it publishes', async () => {
  const calls: MimeBundle[] = [];
  const g = globalThis as Record<symbol, unknown>;
  g[sinkSymbol] = { display: (bundle: MimeBundle) => calls.push(bundle), clear: () => undefined };
  try {
    await rougeBars({ A: { rouge1: 0.3 }, B: { rouge1: 0.4 } }).display({ png: true, width: 300, height: 200, plotlyJs: 'window' });
  } finally {
    delete g[sinkSymbol];
  }
  assert.equal(calls.length, 1);
  const png = decodePng(Buffer.from(calls[0]['image/png'] as string, 'base64'));
  assert.deepEqual([png.width, png.height], [300, 200]);
  assert.ok('application/vnd.plotly.v1+json' in calls[0] && 'text/html' in calls[0]);
});
