import { packageRoot } from './package_root';
import * as path from 'node:path';

/**
 * Where the embedded default model and data live: the package root's `models/` and `data/`.
 * Notebooks default to these when no Llama 3 / dialogsum-test folder is given.
 */
/** The embedded base model: a small Llama-architecture dialogue model in HF folder layout. */
export const EMBEDDED_MODEL_DIR: string = path.join(packageRoot(), 'models', 'dialogue-base');

/** The embedded DialogSum-style data set (train / validation / test). */
export const EMBEDDED_DATA_DIR: string = path.join(packageRoot(), 'data', 'dialogsum');
