import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ConfigError, QloraError } from '../../errors';
import { PreTrainedTokenizer, type TokenizerOptions } from './tokenizer';

async function readJson(file: string, required: boolean): Promise<any> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !required) return undefined;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ConfigError(`${file}: file not found`, 'AutoTokenizer.fromPretrained needs a folder with tokenizer.json (and tokenizer_config.json), as saved by transformers.');
    }
    throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * transformers' `AutoTokenizer`: `await AutoTokenizer.fromPretrained(dir, { paddingSide: 'left' })`
 * reads `dir/tokenizer.json` and `dir/tokenizer_config.json` (optional) into a
 * `PreTrainedTokenizer`. Only local folders: nothing is downloaded.
 */
export class AutoTokenizer {
  static async fromPretrained(dir: string, options: TokenizerOptions = {}): Promise<PreTrainedTokenizer> {
    const tokenizerFile = path.join(dir, 'tokenizer.json');
    const configFile = path.join(dir, 'tokenizer_config.json');
    const [json, config] = await Promise.all([readJson(tokenizerFile, true), readJson(configFile, false)]);
    try {
      return new PreTrainedTokenizer(json, config ?? {}, options);
    } catch (err) {
      // Name the folder: errors from the components name the file and field but not where it lives.
      if (err instanceof QloraError && /^tokenizer(_config)?\.json:/.test(err.message)) {
        const Cls = err.constructor as new (message: string, hint?: string) => QloraError;
        const message = err.hint ? err.message.slice(0, err.message.lastIndexOf('\nHint: ')) : err.message;
        throw new Cls(`${dir}/${message}`, err.hint);
      }
      throw err;
    }
  }
}

/** transformers' alias: the fast tokenizer is the only kind here. */
export { PreTrainedTokenizer as PreTrainedTokenizerFast };
