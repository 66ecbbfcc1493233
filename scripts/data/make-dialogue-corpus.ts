/**
 * Generates the pretraining corpus of the embedded base model, data/dialogue-corpus/corpus.jsonl
 * (one `{"id", "text"}` per line), no instructions anywhere. Most documents are dialogues in the
 * same `#Person1#:` / `#Person2#:` turn style as the summarization set: small talk (chitchat.ts)
 * and task dialogues from the summarization scenes drawn with the whole pools, their own seed and
 * other numbers. About a quarter are short third-person narratives ("#Person1# books a flight to
 * …"), two to four sentences about unrelated events, never next to a dialogue they would describe:
 * a language model has to know narrative English to write a summary at all, as any pretrained
 * model does. So the base model can continue a dialogue and write narrative sentences, but has
 * never seen a dialogue paired with its summary, nor an instruction.
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
    if (c.r() < 0.25) {
      const n = 2 + Math.floor(c.r() * 3);
      out.push(Array.from({ length: n }, () => SCENES[Math.floor(c.r() * SCENES.length)].make(c).summary).join(' '));
      continue;
    }
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
  console.log(`${file}: ${texts.length} documents, ${words} words, ${(fs.statSync(file).size / 1e6).toFixed(2)} MB`);
}

if (require.main === module) main();
