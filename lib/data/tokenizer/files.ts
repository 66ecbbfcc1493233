import { promises as fs } from 'node:fs';
import { ConfigError } from '../../errors';

/** Reads a JSON file; a missing optional file gives undefined, anything else a ConfigError naming it. */
export async function readJsonFile(file: string, required: boolean): Promise<any> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !required) return undefined;
    if (code === 'ENOENT') {
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

/** Writes a file through a temporary sibling and a rename, so readers never see half a file. */
export async function writeFileAtomic(target: string, text: string): Promise<void> {
  const tmp = `${target}.tmp-${process.pid}-${Date.now()}`;
  try {
    await fs.writeFile(tmp, text, 'utf8');
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}
