import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generate, SCENES, SPLITS, toJsonl } from '../../../scripts/data/make-dialogsum';
import { generateCorpus } from '../../../scripts/data/make-dialogue-corpus';
import { pools } from '../../../scripts/data/world';
import { EMBEDDED_DATA_DIR } from '../../../lib/embedded';

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
const made = generate();

test('the generator is deterministic and the committed files are its output byte for byte', () => {
  const again = generate();
  for (const split of Object.keys(SPLITS) as Array<keyof typeof SPLITS>) {
    const text = toJsonl(made[split]);
    assert.equal(sha(toJsonl(again[split])), sha(text));
    assert.equal(sha(fs.readFileSync(path.join(EMBEDDED_DATA_DIR, `${split}.jsonl`), 'utf8')), sha(text), `${split}.jsonl differs: run scripts/data/make-dialogsum`);
  }
  const corpusFile = path.join(EMBEDDED_DATA_DIR, '..', 'dialogue-corpus', 'corpus.jsonl');
  const corpus = generateCorpus(7000).map((t, i) => JSON.stringify({ id: `corpus_${i}`, text: t })).join('\n') + '\n';
  assert.equal(sha(fs.readFileSync(corpusFile, 'utf8')), sha(corpus), 'corpus.jsonl differs: run scripts/data/make-dialogue-corpus');
});

test('split sizes as dialogsum-test, fields, unique ids and dialogues, turn format, length range', () => {
  assert.equal(made.train.length, 1999);
  assert.equal(made.validation.length, 499);
  assert.equal(made.test.length, 499);
  const all = [...made.train, ...made.validation, ...made.test];
  assert.equal(new Set(all.map((r) => r.id)).size, all.length);
  assert.equal(new Set(all.map((r) => r.dialogue)).size, all.length);
  for (const r of all) {
    assert.deepEqual(Object.keys(r), ['id', 'dialogue', 'summary', 'topic']);
    const turns = r.dialogue.split('\n');
    turns.forEach((t, i) => assert.ok(t.startsWith(`#Person${(i % 2) + 1}#: `), `${r.id}: turn ${i}: ${t}`));
    const words = r.dialogue.split(/\s+/).length;
    assert.ok(words >= 25 && words <= 170, `${r.id}: ${words} words`);
    assert.ok(r.summary.length > 20 && !r.summary.includes('\n'));
  }
  assert.ok(SCENES.length >= 20);
  assert.ok(new Set(made.train.map((r) => r.topic)).size >= 20);
  assert.ok(new Set(made.test.map((r) => r.topic)).size >= 20);
});

test('summaries follow from the dialogue: every number and name in a summary is in its dialogue', () => {
  const names = pools('all').name;
  for (const r of [...made.train, ...made.test]) {
    for (const n of r.summary.match(/\b\d+\b/g) ?? []) assert.ok(r.dialogue.includes(n), `${r.id}: ${n} not in dialogue`);
    for (const name of names) if (new RegExp(`\\b${name}\\b`).test(r.summary)) assert.ok(r.dialogue.includes(name), `${r.id}: ${name}`);
  }
});

test('test dialogues use names, places, items and prices that no train dialogue uses', () => {
  const seen = pools('seen'), unseen = pools('unseen');
  for (const key of ['name', 'city', 'dish', 'item', 'place', 'job'] as const) {
    for (const v of unseen[key]) assert.ok(!seen[key].includes(v), `${key} ${v} in both halves`);
  }
  const trainText = made.train.map((r) => r.dialogue).join('\n');
  for (const name of unseen.name) assert.ok(!new RegExp(`\\b${name}\\b`).test(trainText), `${name} appears in train`);
  const testNames = new Set(made.test.flatMap((r) => unseen.name.filter((n) => new RegExp(`\\b${n}\\b`).test(r.dialogue))));
  assert.ok(testNames.size >= 5, `only ${testNames.size} unseen names used in test`);
  // Seen prices are multiples of 5; unseen ones are not.
  const prices = (rows: typeof made.test) => rows.flatMap((r) => [...r.dialogue.matchAll(/(\d+) dollars/g)].map((m) => Number(m[1])));
  assert.ok(prices(made.train).every((p) => p % 5 === 0));
  assert.ok(prices(made.test).every((p) => p % 5 !== 0));
});

test('the pretraining corpus: dialogues and separate narratives, no dialogue paired with its summary, no instructions, 2–4 MB', () => {
  const corpus = generateCorpus(400);
  let narratives = 0;
  for (const t of corpus) {
    assert.ok(!/Summar|### |Instruct|Output:/.test(t), t);
    if (!t.startsWith('#Person1#: ')) {
      narratives++;
      assert.ok(!t.includes('\n') && !/#Person\d#: /.test(t), `a narrative holds no dialogue turn: ${t}`);
      continue;
    }
    t.split('\n').forEach((line, i) => assert.ok(line.startsWith(`#Person${(i % 2) + 1}#: `), line));
  }
  assert.ok(narratives > 60 && narratives < 140, `${narratives} narratives of 400`);
  const size = fs.statSync(path.join(EMBEDDED_DATA_DIR, '..', 'dialogue-corpus', 'corpus.jsonl')).size;
  assert.ok(size > 2e6 && size < 4.2e6, `${size} bytes`);
  const dialogues = [...made.train, ...made.test].map((r) => r.dialogue);
  // Independent draws of a scene with few slots can repeat a dialogue word for word; keep that rare.
  const repeated = corpus.filter((t) => dialogues.some((d) => t.includes(d))).length;
  assert.ok(repeated <= corpus.length / 100, `${repeated} of ${corpus.length} corpus documents repeat a summarization dialogue`);
});
