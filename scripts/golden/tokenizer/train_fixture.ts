/**
 * Trains the small byte-level BPE that the tokenizer tests compare against (and that
 * make_refs.py loads with transformers): 1000 ids on test/fixtures/tokenizer/train.txt.
 * Run: npx tsc ... && node build/<you>/scripts/golden/tokenizer/train_fixture.js
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { trainByteLevelBpe } from '../../../lib/data/tokenizer/trainer';

// Works from build/<you>/ and dist/: both sit two levels above the repository's test/ folder.
export function fixturesDir(): string {
  for (const up of ['../../../../', '../../../../../', '../../../']) {
    const dir = path.resolve(__dirname, up, 'test/fixtures/tokenizer');
    try { readFileSync(path.join(dir, 'corpus.json')); return dir; } catch { /* next */ }
  }
  throw new Error('test/fixtures/tokenizer not found');
}

/** The fixture tokenizer: deterministic for a given train.txt. */
export function trainFixture() {
  const text = readFileSync(path.join(fixturesDir(), 'train.txt'), 'utf8');
  return trainByteLevelBpe(text.split('\n\n'), { vocabSize: 1000, minFrequency: 2, chatTemplate: true, padToken: '<|end_of_text|>' });
}

if (require.main === module) {
  const started = Date.now();
  trainFixture().savePretrained(path.join(fixturesDir(), 'trained')).then((files) => {
    console.log(`wrote ${files.join(', ')} in ${Date.now() - started} ms`);
  });
}
