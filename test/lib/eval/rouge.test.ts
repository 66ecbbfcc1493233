import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PorterStemmer } from '../../../lib/eval/porter';
import { DefaultTokenizer } from '../../../lib/eval/tokenize';
import { RougeScorer, type Score } from '../../../lib/eval/rouge_scorer';
import { BootstrapAggregator, percentileSorted } from '../../../lib/eval/aggregate';
import { evaluate, rouge } from '../../../lib/eval/rouge';
import { ArgumentError } from '../../../lib/errors';
import { packageRoot } from '../../../lib/package_root';

const FIXTURES = join(packageRoot(), 'test', 'fixtures', 'rouge');

function close(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} != ${expected}`);
}
function same(actual: Score, [p, r, f]: [number, number, number], what: string): void {
  close(actual.precision, p, `${what} precision`);
  close(actual.recall, r, `${what} recall`);
  close(actual.fmeasure, f, `${what} fmeasure`);
}

test('Porter stemmer: published vocabulary in both modes, and where NLTK_EXTENSIONS departs from the original', () => {
  const vocab = JSON.parse(readFileSync(join(FIXTURES, 'porter_vocabulary.json'), 'utf8'));
  const nltk = new PorterStemmer();
  const original = new PorterStemmer('ORIGINAL_ALGORITHM');
  for (const [word, stem] of Object.entries<string>(vocab.both)) {
    assert.equal(nltk.stem(word), stem, `NLTK_EXTENSIONS ${word}`);
    assert.equal(original.stem(word), stem, `ORIGINAL_ALGORITHM ${word}`);
  }
  for (const [word, stem] of Object.entries<string>(vocab.nltkOnly)) assert.equal(nltk.stem(word), stem, `NLTK_EXTENSIONS ${word}`);
  for (const [word, stem] of Object.entries<string>(vocab.originalOnly)) assert.equal(original.stem(word), stem, `ORIGINAL_ALGORITHM ${word}`);
  // Porter's measure examples: m=0 tr, ee, tree, y, by; m=1 trouble, oats, trees, ivy; m=2 troubles, private, oaten, orrery.
  const m = (w: string) => nltk.measure(w);
  assert.deepEqual(['tr', 'ee', 'tree', 'y', 'by'].map(m), [0, 0, 0, 0, 0]);
  assert.deepEqual(['trouble', 'oats', 'trees', 'ivy'].map(m), [1, 1, 1, 1]);
  assert.deepEqual(['troubles', 'private', 'oaten', 'orrery'].map(m), [2, 2, 2, 2]);
});

test('tokenizer: lower-case, non [a-z0-9] runs split, stems only tokens longer than 3 characters', () => {
  const plain = new DefaultTokenizer();
  assert.deepEqual(plain.tokenize("#Person1#: Hello, World! It's 2024—café naïve"),
    ['person1', 'hello', 'world', 'it', 's', '2024', 'caf', 'na', 've']);
  assert.deepEqual(plain.tokenize('  \n\t '), []);
  const stemmed = new DefaultTokenizer(true);
  assert.deepEqual(stemmed.tokenize('The cats were running; the dogs ran.'), ['the', 'cat', 'were', 'run', 'the', 'dog', 'ran']);
  // "was"/"its" (3 letters) are never stemmed, "dies" (4) is.
  assert.deepEqual(stemmed.tokenize('was its dies'), ['was', 'its', 'die']);
});

test('rouge_score test cases: rouge1, rouge2, rougeL, empty prediction, rougeLsum', () => {
  const s = (types: string[]) => new RougeScorer(types);
  same(s(['rouge1']).score('testing one two', 'testing').rouge1, [1, 1 / 3, 0.5], 'rouge1');
  same(s(['rouge2']).score('testing one two', 'testing one').rouge2, [1, 0.5, 2 / 3], 'rouge2');
  same(s(['rougeL']).score('testing one two', 'testing one').rougeL, [1, 2 / 3, 0.8], 'rougeL consecutive');
  same(s(['rougeL']).score('testing one two', 'testing two').rougeL, [1, 2 / 3, 0.8], 'rougeL non-consecutive');
  const empty = s(['rouge1', 'rouge2', 'rougeL', 'rougeLsum']).score('testing one two', '');
  for (const t of ['rouge1', 'rouge2', 'rougeL', 'rougeLsum']) same(empty[t], [0, 0, 0], `empty ${t}`);
  // Union LCS: ref w1..w5 with candidate sentences (w1 w2 …) and (w1 w3 … w5) → hits w1 w2 w3 w5.
  same(s(['rougeLsum']).score('w1 w2 w3 w4 w5', 'w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5').rougeLsum, [0.4, 0.8, 16 / 30], 'rougeLsum');
});

test('clipped n-gram counts, LCS order, summary-level double-count guard, stemming', () => {
  const scorer = new RougeScorer(['rouge1', 'rouge2', 'rougeL', 'rougeLsum']);
  // "the" appears 3× in the prediction but 2× in the target: clipped to 2.
  const clipped = scorer.score('the cat and the hat', 'the the the cat');
  same(clipped.rouge1, [3 / 4, 3 / 5, 2 / 3], 'clipped rouge1');
  same(clipped.rouge2, [1 / 3, 1 / 4, 2 / 7], 'clipped rouge2');
  // LCS respects order: "police killed the gunman" vs "the gunman kill police" → "the gunman".
  same(scorer.score('police killed the gunman', 'the gunman kill police').rougeL, [0.5, 0.5, 0.5], 'rougeL order');
  // Ref sentences (a b) and (a c) hold "a" twice; the one candidate "a" may be matched once only.
  same(scorer.score('a b\na c', 'a').rougeLsum, [1, 0.25, 0.4], 'rougeLsum guard');
  // rougeL ignores newlines, rougeLsum splits on them.
  const lines = scorer.score('one two three\nfour five', 'four five\none two three');
  same(lines.rougeL, [0.6, 0.6, 0.6], 'rougeL across lines');
  same(lines.rougeLsum, [1, 1, 1], 'rougeLsum per sentence');
  const stem = new RougeScorer(['rouge1'], { useStemmer: true });
  same(stem.score('The cats were running', 'the cat runs').rouge1, [1, 3 / 4, 6 / 7], 'stemmed rouge1');
  same(scorer.score('The cats were running', 'the cat runs').rouge1, [1 / 3, 1 / 4, 2 / 7], 'unstemmed rouge1');
});

test('several references: each type takes the reference with the best F (score_multi)', () => {
  const scorer = new RougeScorer(['rouge1', 'rouge2']);
  const best = scorer.scoreMulti(['the cat', 'cat sat on the mat'], 'cat sat the');
  same(best.rouge1, [2 / 3, 1, 0.8], 'rouge1 from the first reference');
  same(best.rouge2, [0.5, 0.25, 1 / 3], 'rouge2 from the second reference');
});

test("evaluate's documented examples: aggregated, per sample, several references", () => {
  const metric = evaluate.load('rouge');
  assert.deepEqual(metric.compute({ predictions: ['hello there', 'general kenobi'], references: ['hello there', 'general kenobi'] }),
    { rouge1: 1, rouge2: 1, rougeL: 1, rougeLsum: 1 });
  assert.deepEqual(rouge.compute({ predictions: ['hello there', 'general kenobi'], references: ['hello there', 'master yoda'], useAggregator: false }),
    { rouge1: [1, 0], rouge2: [1, 0], rougeL: [1, 0], rougeLsum: [1, 0] });
  const multi = rouge.compute({ predictions: ['hello there', 'general kenobi'], references: [['hello', 'there'], ['general kenobi', 'general yoda']] });
  close(multi.rouge1, 5 / 6, 'multi rouge1');
  close(multi.rouge2, 0.5, 'multi rouge2');
  close(multi.rougeL, 5 / 6, 'multi rougeL');
  close(multi.rougeLsum, 5 / 6, 'multi rougeLsum');
  assert.deepEqual(Object.keys(rouge.compute({ predictions: ['a'], references: ['a'], rougeTypes: ['rouge1', 'rougeL'] })), ['rouge1', 'rougeL']);
  // A custom tokenizer replaces the default one (no lower-casing here).
  assert.deepEqual(rouge.compute({ predictions: ['A b'], references: ['a b'], rougeTypes: ['rouge1'], tokenizer: (t) => t.split(' '), useAggregator: false }),
    { rouge1: [0.5] });
});

test('aggregation: seeded bootstrap median is deterministic and near the mean; numpy percentiles', () => {
  assert.equal(percentileSorted([1, 2, 3, 4], 50), 2.5);
  close(percentileSorted([1, 2, 3, 4], 2.5), 1.075, 'p2.5');
  const predictions = ['the cat sat on the mat', 'a dog ran home', 'it rained all day long', 'we met at noon', 'she paid the bill'];
  const references = ['a cat sat on a mat', 'the dog walked home', 'rain fell the whole day', 'they met at ten', 'he paid the whole bill'];
  const perSample = rouge.compute({ predictions, references, useAggregator: false });
  const mean = rouge.compute({ predictions, references, aggregator: 'mean' });
  const boot = rouge.compute({ predictions, references });
  assert.deepEqual(rouge.compute({ predictions, references }), boot);
  for (const t of Object.keys(mean)) {
    close(mean[t], perSample[t].reduce((a, b) => a + b, 0) / predictions.length, `mean ${t}`);
    assert.ok(Math.abs(boot[t] - mean[t]) < 0.05, `bootstrap ${t} ${boot[t]} vs mean ${mean[t]}`);
  }
  const intervals = rouge.computeIntervals({ predictions, references });
  for (const t of Object.keys(intervals)) {
    const { low, mid, high } = intervals[t];
    assert.ok(low.fmeasure <= mid.fmeasure && mid.fmeasure <= high.fmeasure, t);
    close(mid.fmeasure, boot[t], `mid ${t}`);
  }
  // Identical rows: every resample mean is that row.
  const agg = new BootstrapAggregator({ nSamples: 50 });
  for (let i = 0; i < 4; i++) agg.addScores({ rouge1: { precision: 0.25, recall: 0.5, fmeasure: 1 / 3 } });
  same(agg.aggregate().rouge1.mid, [0.25, 0.5, 1 / 3], 'constant rows');
});

test('argument errors name the argument and the value', () => {
  assert.throws(() => rouge.compute({ predictions: ['a', 'b'], references: ['a'] }), (e: unknown) =>
    e instanceof ArgumentError && /`predictions` has 2 items but `references` has 1/.test(e.message));
  assert.throws(() => rouge.compute({ predictions: ['a'], references: ['a'], rougeTypes: ['rougeX'] }), /`rougeTypes` has "rougeX"/);
  assert.throws(() => evaluate.load('bleu'), /"bleu"/);
});
