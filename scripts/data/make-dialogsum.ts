/**
 * Generates the embedded DialogSum-style set, data/dialogsum/{train,validation,test}.jsonl
 * (fields id, dialogue, summary, topic; 1999 / 499 / 499 rows like neil-code/dialogsum-test).
 *
 *   node build/<you>/scripts/data/make-dialogsum.js [--out DIR]
 *
 * Deterministic: a mulberry32 stream per split (seeds 101, 202, 303) drives every choice, so one
 * command regenerates the files byte for byte. Train and validation draw names, items, places,
 * prices and times from the 'seen' half of each pool; test draws from the disjoint 'unseen' half.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ctx, rng, type Ctx } from './world';
import { SCENES_A, type Scene } from './scenes-a';
import { SCENES_B } from './scenes-b';

export const SCENES: Scene[] = [...SCENES_A, ...SCENES_B];
export const SPLITS = { train: { n: 1999, seed: 101, pools: 'seen' }, validation: { n: 499, seed: 202, pools: 'seen' }, test: { n: 499, seed: 303, pools: 'unseen' } } as const;

export interface DialogRow { id: string; dialogue: string; summary: string; topic: string }

type Pair = [string, string];
/**
 * Who #Person1# is in a scene decides which small talk fits around it: a customer greets and
 * thanks; a provider (doctor, waiter, driver…) greets and offers more help; friends chat; phone
 * calls start and end with the task.
 */
type Role = 'customer' | 'provider' | 'peer' | 'phone';
const ROLES: Record<string, Role> = {
  'doctor visit': 'provider', 'job interview': 'provider', restaurant: 'provider', taxi: 'provider', haircut: 'provider',
  'hotel reservation': 'phone', 'renting an apartment': 'phone', 'phone message': 'phone',
  'weekend plans': 'peer', invitation: 'peer', school: 'peer', family: 'peer', complaint: 'peer',
};
const ANY: Pair[] = [
  ['Good morning! Lovely weather, isn\'t it?', 'Yes, it\'s much warmer than yesterday.'],
  ['Hi there, how are you today?', 'Fine, thanks. And you?'],
  ['Hello. Sorry to keep you waiting.', 'That\'s all right. I just got here.'],
];
/** Small talk around the task; the summary ignores it, as DialogSum's summaries do. */
const OPENINGS: Record<Role, Pair[]> = {
  customer: [...ANY,
    ['Hi! It\'s been busy today, hasn\'t it?', 'It has. What can I do for you?'],
    ['Hello, do you have a minute?', 'Sure, what is it?'],
    ['Good afternoon. Thanks for seeing me.', 'You\'re welcome. Let\'s get started.']],
  provider: ANY,
  peer: [...ANY.slice(0, 2), ['Hi! Long time no see.', 'Hi! How have you been?']],
  phone: [],
};
const CLOSINGS: Record<Role, Pair[]> = {
  customer: [
    ['Thanks again for your help.', 'My pleasure. Have a nice day.'],
    ['I really appreciate it.', 'Not at all. Goodbye.'],
    ['That\'s everything, I think.', 'Great. Take care.']],
  provider: [['Is there anything else I can do for you?', 'No, that\'s all. Thank you.']],
  peer: [['See you later, then.', 'Bye!'], ['Take care.', 'You too.']],
  phone: [],
};

export function render(lines: string[]): string {
  return lines.map((l, i) => `#Person${(i % 2) + 1}#: ${l}`).join('\n');
}

function row(c: Ctx, scene: Scene): { dialogue: string; summary: string } {
  const { lines, summary } = scene.make(c);
  const role = ROLES[scene.topic] ?? 'customer';
  const openings = OPENINGS[role], closings = CLOSINGS[role];
  const before = openings.length && c.r() < 0.6 ? [...openings[Math.floor(c.r() * openings.length)]] : [];
  const after = closings.length && c.r() < 0.5 ? [...closings[Math.floor(c.r() * closings.length)]] : [];
  // Openings and closings are whole exchanges, so #Person1# still speaks first in the scene.
  return { dialogue: render([...before, ...lines, ...(lines.length % 2 === 0 ? after : [])]), summary };
}

/** All three splits, in memory. No dialogue repeats within or across splits. */
export function generate(): Record<keyof typeof SPLITS, DialogRow[]> {
  const seen = new Set<string>();
  const out = {} as Record<keyof typeof SPLITS, DialogRow[]>;
  for (const [split, spec] of Object.entries(SPLITS) as Array<[keyof typeof SPLITS, (typeof SPLITS)[keyof typeof SPLITS]]>) {
    const c = ctx(rng(spec.seed), spec.pools);
    const rows: DialogRow[] = [];
    while (rows.length < spec.n) {
      const scene = SCENES[Math.floor(c.r() * SCENES.length)];
      const { dialogue, summary } = row(c, scene);
      if (seen.has(dialogue)) continue;
      seen.add(dialogue);
      rows.push({ id: `${split}_${rows.length}`, dialogue, summary, topic: scene.topic });
    }
    out[split] = rows;
  }
  return out;
}

export function toJsonl(rows: DialogRow[]): string {
  return rows.map((r) => JSON.stringify({ id: r.id, dialogue: r.dialogue, summary: r.summary, topic: r.topic })).join('\n') + '\n';
}

function main(): void {
  const args = process.argv.slice(2);
  let root = __dirname;
  while (!fs.existsSync(path.join(root, 'package.json'))) root = path.dirname(root);
  const dir = args.includes('--out') ? path.resolve(args[args.indexOf('--out') + 1]) : path.join(root, 'data', 'dialogsum');
  fs.mkdirSync(dir, { recursive: true });
  for (const [split, rows] of Object.entries(generate())) {
    fs.writeFileSync(path.join(dir, `${split}.jsonl`), toJsonl(rows));
    const words = rows.map((r) => r.dialogue.split(/\s+/).length);
    console.log(`${split}: ${rows.length} rows, dialogue words min ${Math.min(...words)} mean ${(words.reduce((s, w) => s + w, 0) / words.length).toFixed(0)} max ${Math.max(...words)}`);
  }
}

if (require.main === module) main();
