/**
 * The small world the generated dialogues live in: a seeded random source, and pools of names,
 * items, places and numbers. Each pool is split in two disjoint halves: `seen` (train and
 * validation dialogues) and `unseen` (test dialogues), so test rows carry names and details the
 * fine-tuned model never saw in training.
 */
import { mulberry32 } from '../../lib/random';

export type Rng = () => number;

/** mulberry32 (lib/random.ts): same seed → same stream. */
export const rng: (seed: number) => Rng = mulberry32;

export const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
export const int = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
export function pickTwo<T>(r: Rng, xs: readonly T[]): [T, T] {
  const a = pick(r, xs);
  let b = pick(r, xs);
  while (b === a && xs.length > 1) b = pick(r, xs);
  return [a, b];
}

function split<T>(xs: readonly T[]): { seen: T[]; unseen: T[] } {
  return { seen: xs.filter((_, i) => i % 4 !== 3), unseen: xs.filter((_, i) => i % 4 === 3) };
}

const POOLS: Record<string, readonly string[]> = {
  name: ['Tom', 'Mary', 'Jack', 'Linda', 'Peter', 'Susan', 'David', 'Emma', 'Frank', 'Grace', 'Henry', 'Alice', 'Kevin', 'Julia', 'Brian', 'Nancy',
    'Steven', 'Laura', 'George', 'Helen', 'Mark', 'Karen', 'Paul', 'Sarah', 'Daniel', 'Rachel', 'James', 'Monica', 'Robert', 'Diana', 'Simon', 'Olivia',
    'Lucas', 'Fiona', 'Oscar', 'Irene', 'Victor', 'Wendy', 'Adam', 'Bella'],
  city: ['London', 'Paris', 'Tokyo', 'Boston', 'Chicago', 'Rome', 'Berlin', 'Sydney', 'Madrid', 'Toronto', 'Dublin', 'Vienna', 'Seattle', 'Lisbon', 'Prague', 'Denver'],
  clothing: ['jacket', 'sweater', 'dress', 'shirt', 'coat', 'skirt', 'scarf', 'pair of jeans', 'suit', 'pair of boots', 'hat', 'blouse'],
  color: ['blue', 'red', 'black', 'white', 'green', 'grey', 'brown', 'yellow'],
  dish: ['steak', 'pasta', 'fish soup', 'chicken curry', 'vegetable pizza', 'beef noodles', 'salmon salad', 'lamb stew', 'mushroom risotto', 'fried rice', 'tomato soup', 'roast duck'],
  drink: ['coffee', 'orange juice', 'green tea', 'lemonade', 'milk tea', 'apple juice', 'hot chocolate', 'iced water'],
  symptom: ['a headache', 'a sore throat', 'a fever', 'a bad cough', 'a stomachache', 'a pain in the back', 'a runny nose', 'trouble sleeping'],
  medicine: ['some pills', 'cough syrup', 'an antibiotic', 'eye drops', 'a cream', 'vitamins'],
  job: ['sales manager', 'accountant', 'software engineer', 'secretary', 'teacher', 'nurse', 'designer', 'marketing assistant', 'chef', 'editor', 'driver', 'receptionist'],
  company: ['Green Bank', 'Star Electronics', 'Sun Travel', 'Blue Ocean Foods', 'Maple Publishing', 'City Hospital', 'Bright Motors', 'Golden Hotel'],
  device: ['laptop', 'phone', 'printer', 'camera', 'television', 'tablet', 'washing machine', 'computer'],
  problem: ['will not turn on', 'keeps making a noise', 'has a broken screen', 'is very slow', 'does not connect to the internet', 'stopped working yesterday'],
  pet: ['puppy', 'kitten', 'rabbit', 'parrot', 'goldfish', 'hamster'],
  sport: ['tennis', 'swimming', 'basketball', 'yoga', 'football', 'running', 'badminton', 'skiing'],
  room: ['single room', 'double room', 'suite', 'room with a sea view', 'family room', 'quiet room'],
  day: ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'],
  event: ['birthday party', 'wedding', 'graduation party', 'barbecue', 'farewell dinner', 'picnic', 'concert', 'housewarming party'],
  subject: ['math', 'history', 'chemistry', 'English', 'physics', 'biology', 'economics', 'art'],
  item: ['lamp', 'sofa', 'bookshelf', 'desk', 'rug', 'mirror', 'kettle', 'bicycle', 'watch', 'backpack', 'umbrella', 'vase'],
  place: ['the park', 'the museum', 'the beach', 'the mall', 'the cinema', 'the library', 'the zoo', 'the lake', 'the market', 'the gallery', 'the stadium', 'the harbor'],
  relative: ['mother', 'father', 'sister', 'brother', 'aunt', 'uncle', 'grandmother', 'cousin'],
};

export type PoolName = 'name' | 'city' | 'clothing' | 'color' | 'dish' | 'drink' | 'symptom' | 'medicine' | 'job' | 'company' | 'device' | 'problem'
  | 'pet' | 'sport' | 'room' | 'day' | 'event' | 'subject' | 'item' | 'place' | 'relative';
export type Pools = { [K in PoolName]: readonly string[] };

/**
 * The pools a split draws from: 'seen' for train/validation, 'unseen' for test, 'all' for the
 * pretraining corpus. Days of the week are shared (there are only seven).
 */
export function pools(which: 'seen' | 'unseen' | 'all'): Pools {
  const out: Record<string, readonly string[]> = {};
  for (const [k, v] of Object.entries(POOLS)) out[k] = which === 'all' || k === 'day' ? v : split(v)[which];
  return out as unknown as Pools;
}

export const TIMES = ['8 am', '9 am', '10 am', '11 am', 'noon', '2 pm', '3 pm', '4 pm', '5 pm', '6 pm', '7 pm', '8 pm'];

/**
 * What a scene generator draws from: the split's pools plus numbers and times that are disjoint
 * between 'seen' and 'unseen' (seen prices are multiples of 5, unseen ones end in 2 or 7; seen
 * counts are 2–4, unseen 5–7; every third time of day is kept for the unseen half).
 */
export interface Ctx {
  r: Rng;
  p: Pools;
  /** One of the alternatives, uniformly. */
  v: (...alts: string[]) => string;
  /** A price in about [lo, hi]. */
  price: (lo: number, hi: number) => number;
  /** A small count (people, nights, days). */
  count: () => number;
  time: () => string;
}

export function ctx(r: Rng, which: 'seen' | 'unseen' | 'all'): Ctx {
  const times = which === 'all' ? TIMES : TIMES.filter((_, i) => (i % 3 === 2) === (which === 'unseen'));
  return {
    r, p: pools(which),
    v: (...alts) => pick(r, alts),
    price: (lo, hi) => {
      const k = int(r, Math.ceil(lo / 5), Math.floor(hi / 5));
      return which === 'unseen' ? k * 5 + (r() < 0.5 ? 2 : -3) : which === 'all' ? k * 5 + int(r, -2, 2) : k * 5;
    },
    count: () => (which === 'unseen' ? int(r, 5, 7) : which === 'all' ? int(r, 2, 7) : int(r, 2, 4)),
    time: () => pick(r, times),
  };
}

export const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
/** "a"/"an" by the first letter. */
export const a = (s: string): string => (/^[aeiou]/i.test(s) ? `an ${s}` : `a ${s}`);
