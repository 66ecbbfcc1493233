/**
 * Small talk for the pretraining corpus: exchanges without a task (hobbies, food, weather, work,
 * films, travel memories, family news), chained into longer conversations. No summaries.
 */
import { a, cap, type Ctx } from './world';

/** One exchange: an even number of turns, so chained exchanges keep #Person1# / #Person2# order. */
type Exchange = (c: Ctx) => string[];

const EXCHANGES: Exchange[] = [
  (c) => {
    const s = c.v(...c.p.sport), d = c.v(...c.p.day);
    return [`What do you like to do in your free time?`, `I like ${s}. I usually go on ${d}.`,
      `Really? I have never tried ${s}.`, c.v(`You should. It is fun and good for your health.`, `It's easier than it looks. Come with me next ${d}.`)];
  },
  (c) => {
    const d1 = c.v(...c.p.dish), d2 = c.v(...c.p.dish), dr = c.v(...c.p.drink);
    return [`I'm so hungry. What do you want for lunch?`, `I feel like ${d1}. What about you?`,
      d1 === d2 ? `Me too!` : `I'd rather have ${d2}.`, `Let's go to the place on the corner, then. They have ${dr} too.`];
  },
  (c) => [c.v(`What a hot day!`, `It's freezing this morning.`, `Look at that rain.`, `The sun is finally out.`),
    c.v(`I know. The radio says it will stay like this all week.`, `Yes, I didn't expect it at all.`),
    c.v(`I'd better stay inside then.`, `I love weather like this.`), c.v(`Me too, honestly.`, `Let's hope it changes by the weekend.`)],
  (c) => {
    const job = c.v(...c.p.job), comp = c.v(...c.p.company);
    return [`How is your new job going?`, `Pretty well. I'm ${a(job)} at ${comp} now.`,
      `Do you like your colleagues?`, c.v(`They're very friendly, and my boss is patient.`, `Most of them. The work is busy, though.`)];
  },
  (c) => {
    const city = c.v(...c.p.city), n = c.count();
    return [`Have you ever been to ${city}?`, c.v(`Yes, I spent ${n} days there last year.`, `No, but I'd love to go.`),
      `What is it like?`, c.v(`Beautiful old streets and great food.`, `People say it's lively but expensive.`)];
  },
  (c) => {
    const rel = c.v(...c.p.relative), ev = c.v(...c.p.event);
    return [`How is your ${rel} doing?`, `Much better, thanks. We had ${a(ev)} at home last week.`,
      `That sounds lovely.`, c.v(`It was. Everyone was there.`, `It was a bit noisy, but we had fun.`)];
  },
  (c) => [`Did you see any good films lately?`, c.v(`I watched a comedy at ${c.v(...c.p.place)}. It was funny.`, `Not really. I've been too busy.`),
    `I want to see the new one everybody talks about.`, c.v(`Let's go together on ${c.v(...c.p.day)}.`, `I heard it's too long.`)],
  (c) => {
    const pet = c.v(...c.p.pet), name = c.v(...c.p.name);
    return [`Is that your ${pet}?`, `Yes, its name is ${name}.`, `${cap(name)} is so cute! How old is it?`, `Almost ${c.count()} years old.`];
  },
  (c) => {
    const subj = c.v(...c.p.subject);
    return [`You look tired.`, `I stayed up late studying ${subj}.`, `Is it hard?`,
      c.v(`A little, but I'm starting to like it.`, `Very. I can't wait for the holidays.`)];
  },
  (c) => {
    const item = c.v(...c.p.item), color = c.v(...c.p.color);
    return [`I like your ${item}. Is it new?`, `Yes, I got it last weekend. It's ${color}, my favorite color.`,
      `It really suits the room.`, c.v(`Thanks! It was on sale.`, `Thank you. My ${c.v(...c.p.relative)} chose it.`)];
  },
  (c) => [`What time is it?`, `It's almost ${c.time()}.`, c.v(`Oh no, I'm late again.`, `Good, we still have time.`), c.v(`Hurry up, then.`, `Let's have a ${c.v(...c.p.drink)} first.`)],
  (c) => {
    const n1 = c.v(...c.p.name);
    return [`Have you heard from ${n1} recently?`, c.v(`Yes, ${n1} called me yesterday.`, `No, not for a long time.`),
      `I miss the old days at school.`, `So do I. We should all meet again soon.`];
  },
];

const HELLOS: Array<[string, string]> = [
  ['Hi! Long time no see.', 'Hi! How have you been?'],
  ['Hello, nice to see you.', 'Nice to see you too.'],
  ['Hey, how are things?', 'Not bad at all, thanks.'],
];
const BYES: Array<[string, string]> = [
  ['Well, I have to go now.', 'OK, see you later.'],
  ['It was nice talking to you.', 'You too. Bye!'],
  ['Let\'s talk again soon.', 'Sure. Take care.'],
];

/** A conversation of two to four small-talk exchanges, with an optional greeting and farewell. */
export function chat(c: Ctx): string[] {
  const n = 2 + Math.floor(c.r() * 3);
  const turns: string[] = c.r() < 0.6 ? [...HELLOS[Math.floor(c.r() * HELLOS.length)]] : [];
  const used = new Set<number>();
  while (used.size < n) {
    const k = Math.floor(c.r() * EXCHANGES.length);
    if (!used.has(k)) { used.add(k); turns.push(...EXCHANGES[k](c)); }
  }
  if (c.r() < 0.6) turns.push(...BYES[Math.floor(c.r() * BYES.length)]);
  return turns;
}
