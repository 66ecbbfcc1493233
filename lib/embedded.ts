import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Where the embedded default model and data live: the package root's `models/` and `data/`.
 * Notebooks default to these when no Llama 3 / dialogsum-test folder is given.
 */
function packageRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`qlora-ts: package.json not found above ${__dirname}`);
    dir = up;
  }
  return dir;
}

/** The embedded base model: a small Llama-architecture dialogue model in HF folder layout. */
export const EMBEDDED_MODEL_DIR: string = path.join(packageRoot(), 'models', 'dialogue-base');

/** The embedded DialogSum-style data set (train / validation / test). */
export const EMBEDDED_DATA_DIR: string = path.join(packageRoot(), 'data', 'dialogsum');
