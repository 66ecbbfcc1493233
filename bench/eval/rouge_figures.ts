/**
 * ROUGE over the embedded DialogSum-style test split (499 rows) and figure rendering.
 * Ratios are against peers measured in the same run (this machine is noisy):
 *   - scoring with the Porter stemmer vs without;
 *   - evaluate's bootstrap aggregation (1000 resamples) vs the plain mean, both including scoring;
 *   - a warm PNG render vs the first one (browser launch + plotly.js load).
 * Run: npx tsc -p tsconfig.json && node dist/bench/eval/rouge_figures.js
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rouge, scoreAll } from '../../lib/eval/rouge';
import { lossCurve, rougeBars } from '../../lib/viz/charts';
import { closeRenderer } from '../../lib/viz/render';
import { resetPlotlyInline } from '../../lib/viz/plotly_source';

function repoRoot(): string {
  let dir = __dirname;
  while (!require('node:fs').existsSync(join(dir, 'package.json'))) dir = join(dir, '..');
  return dir;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function time(fn: () => unknown): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

async function main(): Promise<void> {
  const rows = readFileSync(join(repoRoot(), 'data/dialogsum/test.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { summary: string });
  const references = rows.map((r) => r.summary);
  // Predictions: the next row's summary (related style, different content), as a weak model would give.
  const predictions = rows.map((_, i) => rows[(i + 1) % rows.length].summary);
  const args = { predictions, references };
  const t: Record<string, number[]> = { plain: [], stemmed: [], mean: [], bootstrap: [] };
  for (let round = 0; round < 7; round++) {
    t.plain.push(time(() => scoreAll({ ...args, useStemmer: false })));
    t.stemmed.push(time(() => scoreAll({ ...args, useStemmer: true })));
    t.mean.push(time(() => rouge.compute({ ...args, useStemmer: true, aggregator: 'mean' })));
    t.bootstrap.push(time(() => rouge.compute({ ...args, useStemmer: true })));
  }
  const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)]));
  console.log(`rows ${rows.length}`);
  console.log(`score, no stemmer     ${m.plain.toFixed(1)} ms  (${(rows.length / m.plain * 1000).toFixed(0)} rows/s)`);
  console.log(`score, Porter stemmer ${m.stemmed.toFixed(1)} ms  ratio ${(m.stemmed / m.plain).toFixed(2)}x of no stemmer`);
  console.log(`compute mean          ${m.mean.toFixed(1)} ms`);
  console.log(`compute bootstrap     ${m.bootstrap.toFixed(1)} ms  ratio ${(m.bootstrap / m.mean).toFixed(2)}x of mean`);
  const mean = rouge.compute({ ...args, useStemmer: true, aggregator: 'mean' });
  const boot = rouge.compute({ ...args, useStemmer: true });
  console.log('mean     ', JSON.stringify(mean));
  console.log('bootstrap', JSON.stringify(boot));

  const fig = rougeBars({ 'ORIGINAL MODEL': { rouge1: 0.289, rouge2: 0.099, rougeL: 0.211, rougeLsum: 0.222 }, 'PEFT MODEL': boot });
  let t0 = performance.now();
  await fig.toPng();
  const cold = performance.now() - t0;
  const warm: number[] = [];
  const svg: number[] = [];
  for (let i = 0; i < 10; i++) {
    t0 = performance.now();
    await fig.toPng();
    warm.push(performance.now() - t0);
    t0 = performance.now();
    await fig.toSvg();
    svg.push(performance.now() - t0);
  }
  await closeRenderer();
  console.log(`PNG first (launch + plotly.js) ${cold.toFixed(0)} ms; warm PNG median ${median(warm).toFixed(0)} ms (${(cold / median(warm)).toFixed(0)}x faster); warm SVG ${median(svg).toFixed(0)} ms`);
  resetPlotlyInline();
  const loss = lossCurve(Array.from({ length: 40 }, (_, i) => ({ loss: 2 / (i + 1), step: (i + 1) * 25 })));
  const first = Buffer.byteLength(loss.bundle()['text/html'] as string);
  const later = Buffer.byteLength(loss.bundle()['text/html'] as string);
  console.log(`text/html: first figure ${(first / 2 ** 20).toFixed(2)} MiB (plotly.js inline), later figures ${(later / 1024).toFixed(1)} KiB`);
}

void main();
