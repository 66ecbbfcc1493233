/**
 * Trainer speed: a 4096-id byte-level BPE (Llama 3 layout) on 4 MiB of Markdown docs from
 * node_modules (sorted by path), as the embedded model's tokenizer is trained. No peer trainer runs
 * on this machine (no Python `tokenizers`), so this reports time and compression only.
 * Run: npx tsc -p tsconfig.json --outDir build/tokenizer && node build/tokenizer/bench/tokenizer/train.js
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { trainByteLevelBpe } from '../../lib/data/tokenizer/trainer';

const REPO = path.resolve(__dirname, __dirname.includes(`${path.sep}build${path.sep}`) ? '../../../..' : '../../..');
const BYTES = Number(process.env.MIB ?? 4) * (1 << 20);
const VOCAB = Number(process.env.VOCAB ?? 4096);

const docs: string[] = [];
let total = 0;
const walk = (dir: string) => {
  for (const name of readdirSync(dir).sort()) {
    if (total >= BYTES) return;
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.toLowerCase().endsWith('.md')) { const t = readFileSync(p, 'utf8'); docs.push(t); total += Buffer.byteLength(t); }
  }
};
walk(path.join(REPO, 'node_modules'));
const t0 = process.hrtime.bigint();
const tok = trainByteLevelBpe(docs, { vocabSize: VOCAB });
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const ids = docs.reduce((n, d) => n + tok.encode(d, { addSpecialTokens: false }).length, 0);
console.log(`trained ${tok.length} ids (${tok.vocabSize} BPE + ${tok.length - tok.vocabSize} special) on ${(total / (1 << 20)).toFixed(2)} MiB, ${docs.length} docs in ${(ms / 1000).toFixed(2)} s`);
console.log(`compression on the training text: ${(total / ids).toFixed(2)} bytes/token`);
