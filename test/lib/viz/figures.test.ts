import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../../../lib/random';
import { sinkSymbol, displaySymbol, type MimeBundle } from '../../../lib/display';
import { lossCurve, lrSchedule, tokenLengthHistogram, rougeBars, quantErrorHistogram, memoryFootprintBars, trainableParamsChart } from '../../../lib/viz/charts';
import { Figure } from '../../../lib/viz/figure';
import { resetPlotlyInline } from '../../../lib/viz/plotly_source';
import { binValues } from '../../../lib/viz/theme';
import { matchSnapshot } from './snapshot';
import { sampleLogHistory } from './samples';
import { Dataset } from '../../../lib/data/dataset';
import { DatasetDict } from '../../../lib/data/dataset_dict';

function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

test('figure JSON snapshots (template applied, numbers rounded, seeded data)', () => {
  const random = mulberry32(3);
  const lengths = (n: number, mean: number) => Array.from({ length: n }, () => Math.max(20, Math.round(mean + 60 * normal(random))));
  const errors = (n: number, scale: number) => Array.from({ length: n }, () => scale * (random() - 0.5) * (random() + 0.2));
  const figures: Record<string, Figure> = {
    'loss_curve.json': lossCurve(sampleLogHistory()),
    'lr_schedule.json': lrSchedule(sampleLogHistory()),
    'lr_schedule_array.json': lrSchedule([0, 1e-4, 2e-4, 1.5e-4, 1e-4, 5e-5]),
    'token_length_histogram.json': tokenLengthHistogram({ train: lengths(200, 250), validation: lengths(50, 240), test: lengths(50, 260) }, { maxLength: 384 }),
    'rouge_bars.json': rougeBars({
      'ORIGINAL MODEL': { rouge1: 0.289, rouge2: 0.099, rougeL: 0.211, rougeLsum: 0.222 },
      'PEFT MODEL': { rouge1: 0.421, rouge2: 0.162, rougeL: 0.289, rougeLsum: 0.306 },
    }),
    'rouge_bars_runs.json': rougeBars({
      'r=8 NF4': { rouge1: 0.40, rouge2: 0.15, rougeL: 0.28, rougeLsum: 0.29 },
      'r=32 NF4': { rouge1: 0.42, rouge2: 0.16, rougeL: 0.29, rougeLsum: 0.31 },
      'r=32 FP4': { rouge1: 0.41, rouge2: 0.155, rougeL: 0.285, rougeLsum: 0.30 },
    }),
    'quant_error_histogram.json': quantErrorHistogram({ NF4: errors(2000, 0.3), FP4: errors(2000, 0.4) }, { nbins: 30 }),
    'memory_footprint_bars.json': memoryFootprintBars({ fp32: 4_000_000, bf16: 2_000_000, nf4: 562_500, nf4dq: 515_869 }),
    'trainable_params.json': trainableParamsChart({ trainable: 18_874_368, frozen: 8_049_135_616 - 18_874_368 }),
  };
  for (const [name, fig] of Object.entries(figures)) {
    const json = fig.toJSON();
    assert.equal(json.layout.colorway !== undefined, true, `${name} has the template`);
    matchSnapshot(name, JSON.stringify(json, null, 1) + '\n');
  }
  const loss = figures['loss_curve.json'].toJSON().data;
  assert.deepEqual(loss.map((t) => t.name), ['train loss', 'eval loss']);
  assert.deepEqual(loss[1].x, [10, 20, 30, 40]);
});

test('bins cover every value once; the template merges nested layout keys', () => {
  const bins = binValues([0, 0.5, 1, 1.5, 2, 2, 10], { binWidth: 1 });
  assert.deepEqual(bins.counts.reduce((a, b) => a + b, 0), 7);
  assert.deepEqual(bins.counts.slice(0, 3), [2, 2, 2]);
  const fig = new Figure({ data: [], layout: { title: 'T', xaxis: { title: { text: 'x' } } } });
  const layout = fig.toJSON().layout as Record<string, Record<string, unknown>>;
  assert.equal(layout.xaxis.gridcolor, '#E5E5E5');
  assert.deepEqual(layout.xaxis.title, { text: 'x' });
  assert.equal(layout.title.text, 'T');
  // Counts stay exact; only fractions are rounded.
  assert.deepEqual(trainableParamsChart({ trainable: 18_874_368, frozen: 8_030_261_248 }).toJSON().data[0].values, [18_874_368, 8_030_261_248]);
  assert.deepEqual(lrSchedule([1 / 3]).toJSON().data[0].y, [0.333333]);
  // Llama-3-8B-sized weights are drawn in GiB.
  const big = memoryFootprintBars({ fp32: 8.03e9 * 4, nf4: 8.03e9 * 0.5625 }).toJSON();
  assert.equal((big.layout.yaxis as { title: { text: string } }).title.text, 'GiB');
  assert.deepEqual((big.data[0].text as string[]), ['29.9 GiB (100.0%)', '4.21 GiB (14.1%)']);
});

test('offline HTML: the first figure carries plotly.js, later ones use window.Plotly; the bundle has the plotly MIME type', () => {
  resetPlotlyInline();
  const fig = lossCurve(sampleLogHistory(20));
  const first = fig.bundle();
  const second = fig.bundle();
  const html1 = first['text/html'] as string;
  const html2 = second['text/html'] as string;
  assert.ok(html1.includes('/* plotly.js 3.1.2 */') && html1.length > 3_000_000, 'first output inlines plotly.js');
  assert.ok(!html2.includes('/* plotly.js') && html2.length < 20_000, 'later outputs do not');
  assert.ok(html2.includes('window.Plotly.newPlot'));
  assert.equal(html1.match(/<\/script/gi)?.length, 3, 'library, its IndexedDB copy, the drawing: no early </script> inside the library');
  const spec = first['application/vnd.plotly.v1+json'] as { data: unknown[]; layout: Record<string, unknown> };
  assert.equal(spec.data.length, 2);
  assert.match(first['text/plain'] as string, /<Figure "Training loss": 2 traces \(train loss, eval loss\)>/);
  // A figure shown twice gets two element ids.
  const ids = [...html2.matchAll(/id="(qlora-ts-fig-[^"]+)"/g)].map((m) => m[1]);
  const again = [...(fig.bundle()['text/html'] as string).matchAll(/id="(qlora-ts-fig-[^"]+)"/g)].map((m) => m[1]);
  assert.notEqual(ids[0], again[0]);
  const page = rougeBars({ A: { rouge1: 0.5 }, B: { rouge1: 0.6 } }).toHtml({ plotlyJs: 'window' });
  matchSnapshot('rouge_bars_window.html', page.replace(/qlora-ts-fig-[0-9a-f]+(-\d+)?/g, 'qlora-ts-fig-ID') + '\n');
});

test('show() publishes the display bundle through the kernel sink', () => {
  const calls: { bundle: MimeBundle; options?: { displayId?: string; update?: boolean } }[] = [];
  const g = globalThis as Record<symbol, unknown>;
  g[sinkSymbol] = { display: (bundle: MimeBundle, options?: { displayId?: string; update?: boolean }) => calls.push({ bundle, options }), clear: () => undefined };
  try {
    const fig = trainableParamsChart({ trainable: 10, frozen: 90 });
    fig.show({ plotlyJs: 'window' });
    assert.equal(calls.length, 1);
    assert.deepEqual(Object.keys(calls[0].bundle).sort(), ['application/vnd.plotly.v1+json', 'text/html', 'text/plain']);
    assert.deepEqual(Object.keys(fig[displaySymbol]()).sort(), ['application/vnd.plotly.v1+json', 'text/html', 'text/plain']);
  } finally {
    delete g[sinkSymbol];
  }
});

test('token length histogram from tokenized datasets (input_ids lengths), a DatasetDict too', () => {
  const ds = (lengths: number[]) => Dataset.fromList(lengths.map((n) => ({ input_ids: Array.from({ length: n }, (_, i) => i) })));
  const dict = new DatasetDict({ train: ds([3, 4, 4, 9]), test: ds([5]) });
  const fromDict = tokenLengthHistogram(dict, { binWidth: 1 }).toJSON().data;
  const fromArrays = tokenLengthHistogram({ train: [3, 4, 4, 9], test: [5] }, { binWidth: 1 }).toJSON().data;
  assert.deepEqual(fromDict, fromArrays);
  assert.deepEqual(fromDict.map((t) => t.name), ['train (4)', 'test (1)']);
  assert.deepEqual(fromDict[0].y, [1, 2, 0, 0, 0, 0, 1]);
});