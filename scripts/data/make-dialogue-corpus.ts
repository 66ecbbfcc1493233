/**
 * Generates the pretraining corpus of the embedded base model, data/dialogue-corpus/corpus.jsonl
 * (one `{"id", "text"}` per line): dialogues only, no summaries and no instructions, in the same
 * `#Person1#:` / `#Person2#:` turn style as the summarization set. Half are small talk
 * (chitchat.ts); half are task dialogues from the summarization scenes drawn with the whole
 * pools, their own seed and other numbers, with small talk before or after — so the base model
 * can continue a dialogue but has never seen a summary.
 *
 *   node build/<you>/scripts/data/make-dialogue-corpus.js [--out DIR] [--count N]
 *
 * Deterministic (mulberry32, seed 4242): one command regenerates the file byte for byte.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chat } from './chitchat';
import { render, SCENES } from './make-dialogsum';
import { ctx, rng } from './world';

export function generateCorpus(count: number): string[] {
  const c = ctx(rng(4242), 'all');
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let turns: string[];
    if (c.r() < 0.5) turns = chat(c);
    else {
      const task = SCENES[Math.floor(c.r() * SCENES.length)].make(c).lines;
      const talk = chat(c).slice(0, 4);
      turns = task.length % 2 === 0 && c.r() < 0.5 ? [...task, ...talk] : c.r() < 0.5 ? [...talk, ...task] : task;
    }
    out.push(render(turns));
  }
  return out;
}

function main(): void {
  const args = process.argv.slice(2);
  let root = __dirname;
  while (!fs.existsSync(path.join(root, 'package.json'))) root = path.dirname(root);
  const dir = args.includes('--out') ? path.resolve(args[args.indexOf('--out') + 1]) : path.join(root, 'data', 'dialogue-corpus');
  const count = args.includes('--count') ? Number(args[args.indexOf('--count') + 1]) : 7000;
  const texts = generateCorpus(count);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'corpus.jsonl');
  fs.writeFileSync(file, texts.map((t, i) => JSON.stringify({ id: `corpus_${i}`, text: t })).join('\n') + '\n');
  const words = texts.reduce((s, t) => s + t.split(/\s+/).length, 0);
  console.log(`${file}: ${texts.length} dialogues, ${words} words, ${(fs.statSync(file).size / 1e6).toFixed(2)} MB`);
}

if (require.main === module) main();
