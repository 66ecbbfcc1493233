import * as path from 'node:path';
import { ensureBackend } from '../../backend';
import { QloraError } from '../../errors';
import { readJsonFile } from './files';
import { PreTrainedTokenizer, type TokenizerOptions } from './tokenizer';

/**
 * transformers' `AutoTokenizer`: `await AutoTokenizer.fromPretrained(dir, { paddingSide: 'left' })`
 * reads `dir/tokenizer.json` and `dir/tokenizer_config.json` (optional) into a
 * `PreTrainedTokenizer`. Only local folders: nothing is downloaded.
 */
export class AutoTokenizer {
  static async fromPretrained(dir: string, options: TokenizerOptions = {}): Promise<PreTrainedTokenizer> {
    const tokenizerFile = path.join(dir, 'tokenizer.json');
    const configFile = path.join(dir, 'tokenizer_config.json');
    // `call(..., { returnTensors: 'tf' })` makes tensors: have the library's backend ready first.
    const [json, config] = await Promise.all([readJsonFile(tokenizerFile, true), readJsonFile(configFile, false), ensureBackend()]);
    try {
      return new PreTrainedTokenizer(json, config ?? {}, { nameOrPath: dir, ...options });
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
