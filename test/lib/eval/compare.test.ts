import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareSummaries, pyFloat, summaryColumnName } from '../../../lib/eval/compare';
import { rouge } from '../../../lib/eval/rouge';
import { displaySymbol } from '../../../lib/display';
import { ArgumentError } from '../../../lib/errors';
import { matchSnapshot } from '../viz/snapshot';

const dialogues = [
  '#Person1#: Hi, Mr. Smith. I\'m Doctor Hawkins. Why are you here today?\n#Person2#: I found it would be a good idea to get a check-up.',
  '#Person1#: Hello Mrs. Parker, how have you been?\n#Person2#: Hello Dr. Peters. Just fine thank you. Ricky and I are here for his vaccines.',
  '#Person1#: Excuse me, did you see a set of keys?\n#Person2#: What kind of keys? <they were on the table & now gone>',
];
const human = [
  'Mr. Smith\'s getting a check-up, and Doctor Hawkins advises him to have one every year.',
  'Mrs Parker takes Ricky for his vaccines. Dr. Peters checks the record and then gives Ricky a vaccine.',
  '#Person1#\'s looking for a set of keys and asks for #Person2#\'s help to find them.',
];
const base = [
  'Doctor Hawkins asks why Mr. Smith is here.',
  'Mrs. Parker says hello.',
  'Someone lost keys.',
];
const peft = [
  'Mr. Smith is getting a check-up from Doctor Hawkins, who advises one every year.',
  'Mrs Parker brings Ricky for his vaccines and Dr. Peters gives Ricky a vaccine.',
  '#Person1# is looking for a set of keys and asks #Person2# to help find them.',
];

test('compareSummaries: ROUGE per model with the stemmer, improvements, the walkthrough printout', () => {
  const cmp = compareSummaries({ dialogues, human, models: { 'ORIGINAL MODEL': base, 'PEFT MODEL': peft } });
  for (const [name, summaries] of [['ORIGINAL MODEL', base], ['PEFT MODEL', peft]] as const) {
    assert.deepEqual(cmp.rouge[name], rouge.compute({ predictions: [...summaries], references: human, useStemmer: true }));
  }
  assert.ok(cmp.rouge['PEFT MODEL'].rouge1 > cmp.rouge['ORIGINAL MODEL'].rouge1);
  const imp = cmp.improvement();
  for (const k of ['rouge1', 'rouge2', 'rougeL', 'rougeLsum']) assert.equal(imp[k], cmp.rouge['PEFT MODEL'][k] - cmp.rouge['ORIGINAL MODEL'][k]);
  const lines = cmp.report().split('\n');
  assert.equal(lines[0], 'ORIGINAL MODEL:');
  assert.match(lines[1], /^\{'rouge1': 0\.\d+, 'rouge2': 0\.\d+, 'rougeL': 0\.\d+, 'rougeLsum': 0\.\d+\}$/);
  assert.equal(lines[2], 'PEFT MODEL:');
  assert.equal(lines[4], 'Absolute percentage improvement of PEFT MODEL over ORIGINAL MODEL');
  assert.equal(lines[5], `rouge1: ${(imp.rouge1 * 100).toFixed(2)}%`);
  assert.equal(lines.length, 9);
  assert.equal(String(cmp), cmp.report());
  assert.deepEqual(cmp.table().columns, ['dialogue', 'human_baseline_summaries', 'original_model_summaries', 'peft_model_summaries']);
  assert.equal(cmp.perSample['PEFT MODEL'].rouge1.length, 3);
  const fig = cmp.figure().toJSON();
  assert.deepEqual(fig.data.map((t) => t.name), ['ORIGINAL MODEL', 'PEFT MODEL']);
  const gain = cmp.improvementFigure().toJSON().data;
  assert.deepEqual(gain.map((t) => t.name), ['PEFT MODEL']);
  assert.equal(gain[0].text && (gain[0].text as string[])[0], lines[5].split(': ')[1]);
});

test('compareSummaries: HTML table snapshot (escaped, long text shortened) and text/plain', () => {
  const cmp = compareSummaries({ dialogues, human, models: { 'ORIGINAL MODEL': base, 'PEFT MODEL': peft }, aggregator: 'mean' });
  const bundle = cmp[displaySymbol]();
  const html = bundle['text/html'] as string;
  assert.ok(html.includes('&lt;they were on the table &amp; now gone&gt;'));
  matchSnapshot('compare_table.html', html + '\n');
  assert.match(bundle['text/plain'] as string, /human_baseline_summaries/);
});

test('more than two runs: each later run against the first; per-row references may be lists', () => {
  const cmp = compareSummaries({
    human: human.map((h) => [h, 'A different human summary.']),
    models: { 'r=8': base, 'r=32 NF4': peft, 'r=32 FP4': peft.map((s) => s.replace('vaccine', 'shot')) },
  });
  const report = cmp.report();
  assert.match(report, /Absolute percentage improvement of r=32 NF4 over r=8\n/);
  assert.match(report, /Absolute percentage improvement of r=32 FP4 over r=8\n/);
  assert.deepEqual(cmp.table().columns, ['human_baseline_summaries', 'r_8_summaries', 'r_32_nf4_summaries', 'r_32_fp4_summaries']);
  assert.equal(summaryColumnName('PEFT MODEL'), 'peft_model_summaries');
  assert.throws(() => compareSummaries({ human, models: { a: base.slice(1) } }), (e: unknown) => e instanceof ArgumentError && /`models\["a"\]` has 2 summaries but `human` has 3/.test(e.message));
});

test('Python float repr for the printed dicts', () => {
  assert.equal(pyFloat(0.25), '0.25');
  assert.equal(pyFloat(1), '1.0');
  assert.equal(pyFloat(0), '0.0');
  assert.equal(pyFloat(1.5e-5), '1.5e-05');
  assert.equal(pyFloat(0.1 + 0.2), '0.30000000000000004');
});

test('the summaries as a danfo DataFrame', () => {
  const cmp = compareSummaries({ human, models: { 'ORIGINAL MODEL': base, 'PEFT MODEL': peft } });
  const df = cmp.frame() as { columns: string[]; shape: number[]; values: unknown[][] };
  assert.deepEqual(df.columns, ['human_baseline_summaries', 'original_model_summaries', 'peft_model_summaries']);
  assert.deepEqual(df.shape, [3, 3]);
  assert.equal(df.values[1][2], peft[1]);
});
