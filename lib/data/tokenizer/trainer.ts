import { ArgumentError, show } from '../../errors';
import { BYTE_TO_CHAR, toByteLevel } from './bytes';
import { compilePattern } from './regex';
import { LLAMA3_PATTERN } from './pre_tokenizer';
import { PreTrainedTokenizer } from './tokenizer';

/** Llama 3's special tokens, in id order after the BPE vocabulary. */
export const LLAMA3_SPECIAL_TOKENS = ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'];

/** Meta-Llama-3-8B-Instruct's chat template. */
export const LLAMA3_CHAT_TEMPLATE = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

export interface TrainBpeOptions {
  /** Total vocabulary size, special tokens included. */
  vocabSize: number;
  /** Added after the BPE vocabulary, in order (default: Llama 3's five). */
  specialTokens?: string[];
  /** A pair must occur at least this often to be merged (default 2). */
  minFrequency?: number;
  bosToken?: string | null;
  eosToken?: string | null;
  padToken?: string | null;
  /** Add `bosToken` in front of every encoded text, as Llama 3's post-processor does (default true). */
  addBosToken?: boolean;
  /** A chat template for tokenizer_config.json; `true` takes Llama 3's. */
  chatTemplate?: string | true;
  modelMaxLength?: number;
}

/** Max-heap entry: a pair and the count it had when pushed (stale entries are re-checked on pop). */
interface Entry { count: number; a: number; b: number }

const PAIR = 2 ** 21;

class PairHeap {
  private items: Entry[] = [];
  get size(): number { return this.items.length; }
  /** Higher count first; ties: the lexicographically smaller (a, b) first. */
  private static before(x: Entry, y: Entry): boolean {
    return x.count !== y.count ? x.count > y.count : x.a !== y.a ? x.a < y.a : x.b < y.b;
  }
  push(e: Entry): void {
    const h = this.items;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!PairHeap.before(e, h[p])) break;
      h[i] = h[p]; i = p;
    }
    h[i] = e;
  }
  pop(): Entry {
    const h = this.items;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const c = l + 1 < h.length && PairHeap.before(h[l + 1], h[l]) ? l + 1 : l;
        if (!PairHeap.before(h[c], last)) break;
        h[i] = h[c]; i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

/**
 * Trains a byte-level BPE tokenizer in the Llama 3 layout: Llama 3's pre-tokenizer regex, the 256
 * byte symbols as the first ids, merges learned from pair counts over the words of `texts` (most
 * frequent first), then the special tokens. Returns a `PreTrainedTokenizer` whose `savePretrained`
 * writes a tokenizer.json + tokenizer_config.json that transformers and `tokenizers` load.
 */
export function trainByteLevelBpe(texts: Iterable<string>, options: TrainBpeOptions): PreTrainedTokenizer {
  const specials = options.specialTokens ?? LLAMA3_SPECIAL_TOKENS;
  const minFrequency = options.minFrequency ?? 2;
  const { vocabSize } = options;
  if (!Number.isInteger(vocabSize) || vocabSize < 256 + specials.length) {
    throw new ArgumentError(`\`vocabSize\` must be an integer of at least 256 + ${specials.length} special tokens, got ${show(vocabSize)}`);
  }
  if (new Set(specials).size !== specials.length || specials.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new ArgumentError(`\`specialTokens\` must be distinct non-empty strings, got ${show(specials)}`);
  }
  for (const name of ['bosToken', 'eosToken', 'padToken'] as const) {
    const token = options[name];
    if (token != null && !specials.includes(token)) {
      throw new ArgumentError(`\`${name}\` ${show(token)} is not one of \`specialTokens\` ${show(specials)}`, `add it to \`specialTokens\`.`);
    }
  }
  if (!Number.isInteger(minFrequency) || minFrequency < 1) throw new ArgumentError(`\`minFrequency\` must be an integer ≥ 1, got ${show(minFrequency)}`);

  // 1. Word counts (special tokens in the text are cut out, as the tokenizer will split them off).
  const re = compilePattern({ Regex: LLAMA3_PATTERN }, 'pre_tokenizer');
  const specialRe = specials.length > 0 ? new RegExp(specials.map((s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|'), 'g') : null;
  const wordCounts = new Map<string, number>();
  for (const text of texts) {
    if (typeof text !== 'string') throw new ArgumentError(`\`texts\` must yield strings, got ${show(typeof text)}`);
    for (const part of specialRe ? text.split(specialRe) : [text]) {
      re.lastIndex = 0;
      for (let m = re.exec(part); m !== null; m = re.exec(part)) {
        if (m[0].length === 0) { re.lastIndex++; continue; }
        wordCounts.set(m[0], (wordCounts.get(m[0]) ?? 0) + 1);
      }
    }
  }

  // 2. Symbols: ids 0..255 are the byte-level characters in code-point order ('!' is 0, as Llama 3).
  const alphabet = [...BYTE_TO_CHAR].sort((x, y) => x.charCodeAt(0) - y.charCodeAt(0));
  const tokens: string[] = [...alphabet];
  const idOf = new Map<string, number>(alphabet.map((c, i) => [c, i]));
  const words: number[][] = [];
  const freqs: number[] = [];
  for (const [word, count] of wordCounts) {
    words.push([...toByteLevel(word)].map((c) => idOf.get(c)!));
    freqs.push(count);
  }

  // 3. Pair counts and where each pair occurs.
  const counts = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  const bump = (a: number, b: number, w: number, delta: number) => {
    const key = a * PAIR + b;
    counts.set(key, (counts.get(key) ?? 0) + delta * freqs[w]);
    if (delta > 0) {
      let set = where.get(key);
      if (set === undefined) where.set(key, (set = new Set()));
      set.add(w);
    }
  };
  words.forEach((symbols, w) => { for (let i = 0; i + 1 < symbols.length; i++) bump(symbols[i], symbols[i + 1], w, 1); });
  const heap = new PairHeap();
  for (const [key, count] of counts) heap.push({ count, a: Math.floor(key / PAIR), b: key % PAIR });

  // 4. Merge the most frequent pair until the vocabulary is full.
  const merges: [string, string][] = [];
  const bpeSize = vocabSize - specials.length;
  while (tokens.length < bpeSize && heap.size > 0) {
    const top = heap.pop();
    const key = top.a * PAIR + top.b;
    const current = counts.get(key) ?? 0;
    if (current !== top.count) {
      if (current > 0 && current < top.count) heap.push({ ...top, count: current });
      continue;
    }
    if (current < minFrequency) break;
    const merged = tokens[top.a] + tokens[top.b];
    const newId = tokens.length;
    tokens.push(merged);
    idOf.set(merged, newId);
    merges.push([tokens[top.a], tokens[top.b]]);
    const touched = new Set<number>();
    for (const w of where.get(key) ?? []) {
      const s = words[w];
      for (let i = 0; i + 1 < s.length; i++) {
        if (s[i] !== top.a || s[i + 1] !== top.b) continue;
        if (i > 0) { bump(s[i - 1], top.a, w, -1); bump(s[i - 1], newId, w, 1); touched.add(s[i - 1] * PAIR + newId); }
        if (i + 2 < s.length) { bump(top.b, s[i + 2], w, -1); bump(newId, s[i + 2], w, 1); touched.add(newId * PAIR + s[i + 2]); }
        bump(top.a, top.b, w, -1);
        s.splice(i, 2, newId);
      }
    }
    counts.delete(key);
    where.delete(key);
    for (const k of touched) {
      const count = counts.get(k) ?? 0;
      if (count > 0) heap.push({ count, a: Math.floor(k / PAIR), b: k % PAIR });
    }
  }

  return new PreTrainedTokenizer(...byteLevelBpeFiles(tokens, merges, specials, options));
}

/** The tokenizer.json and tokenizer_config.json of a trained vocabulary, in Llama 3's layout. */
function byteLevelBpeFiles(tokens: string[], merges: [string, string][], specials: string[], options: TrainBpeOptions): [any, any] {
  const bosToken = options.bosToken !== undefined ? options.bosToken : specials.includes('<|begin_of_text|>') ? '<|begin_of_text|>' : null;
  const eosToken = options.eosToken !== undefined ? options.eosToken : specials.includes('<|end_of_text|>') ? '<|end_of_text|>' : null;
  const addedTokens = specials.map((content, i) => ({
    id: tokens.length + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));
  const bosId = bosToken === null ? -1 : tokens.length + specials.indexOf(bosToken);
  const addBos = (options.addBosToken ?? true) && bosId >= 0;
  const byteLevelPost = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true };
  const bos = { SpecialToken: { id: bosToken, type_id: 0 } };
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: LLAMA3_PATTERN }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: addBos ? {
      type: 'Sequence',
      processors: [byteLevelPost, {
        type: 'TemplateProcessing',
        single: [bos, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [bos, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bosToken, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: { [bosToken!]: { id: bosToken, ids: [bosId], tokens: [bosToken] } },
      }],
    } : byteLevelPost,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: true,
      vocab: Object.fromEntries(tokens.map((t, i) => [t, i])),
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  const config: Record<string, any> = {
    added_tokens_decoder: Object.fromEntries(addedTokens.map(({ id, ...t }) => [String(id), t])),
    bos_token: bosToken,
    eos_token: eosToken,
    clean_up_tokenization_spaces: false,
    model_input_names: ['input_ids', 'attention_mask'],
    model_max_length: options.modelMaxLength ?? 1024,
    tokenizer_class: 'PreTrainedTokenizerFast',
  };
  if (options.padToken != null) config.pad_token = options.padToken;
  if (options.chatTemplate !== undefined) config.chat_template = options.chatTemplate === true ? LLAMA3_CHAT_TEMPLATE : options.chatTemplate;
  return [json, config];
}
