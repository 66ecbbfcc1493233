import { ConfigError, show } from '../../errors';
import { PairTable } from './pair_table';

/** Ids stay below 2^21; a heap entry packs (rank, position) as rank * 2^24 + position. */
const PAIR = 2 ** 21;
const POS = 2 ** 24;

/**
 * The BPE model of a tokenizer.json (`model.type: "BPE"`): a vocabulary and ranked merges.
 * `encodeWord` applies merges in rank order, the lowest rank first and the leftmost on ties,
 * exactly as `tokenizers`' `Word::merge_all`. With `ignore_merges` (Llama 3), a word already in the
 * vocabulary is one token without merging.
 */
export class BpeModel {
  readonly vocab: Map<string, number>;
  readonly idToToken: string[];
  readonly ignoreMerges: boolean;
  readonly unkTokenId: number | undefined;
  readonly fuseUnk: boolean;
  /** (left id, right id) → merge rank. */
  private readonly ranks: PairTable;
  /** merge rank → id of the merged token. */
  private readonly mergedIds: Int32Array;

  /** `merges` as tokenizer.json writes them: `"a b"` strings (older files) or `["a", "b"]` pairs. */
  constructor(vocab: Map<string, number>, merges: readonly (string | readonly [string, string])[],
    options: { ignoreMerges?: boolean; unkToken?: string | null; fuseUnk?: boolean } = {}) {
    this.vocab = vocab;
    this.ignoreMerges = options.ignoreMerges ?? false;
    this.fuseUnk = options.fuseUnk ?? false;
    this.idToToken = [];
    for (const [token, id] of vocab) {
      if (!Number.isInteger(id) || id < 0 || id >= PAIR) throw new ConfigError(`tokenizer.json: \`model.vocab\` gives ${show(token)} the id ${show(id)}, outside 0..${PAIR - 1}`);
      this.idToToken[id] = token;
    }
    this.mergedIds = new Int32Array(merges.length);
    this.ranks = new PairTable(merges.length);
    for (let rank = 0; rank < merges.length; rank++) {
      const m = merges[rank];
      let a: string | undefined;
      let b: string | undefined;
      if (typeof m === 'string') {
        const space = m.indexOf(' ', 1);
        if (space > 0) { a = m.slice(0, space); b = m.slice(space + 1); }
      } else if (Array.isArray(m) && m.length === 2) [a, b] = m;
      if (typeof a !== 'string' || typeof b !== 'string') {
        throw new ConfigError(`tokenizer.json: \`model.merges[${rank}]\` is ${show(JSON.stringify(m))}; expected "a b" or ["a", "b"]`);
      }
      const ia = vocab.get(a);
      const ib = vocab.get(b);
      const merged = ia === undefined || ib === undefined ? undefined : vocab.get(a + b);
      if (merged === undefined) {
        throw new ConfigError(`tokenizer.json: \`model.merges[${rank}]\` (${show(`${a} ${b}`)}) uses a token missing from \`model.vocab\``);
      }
      this.ranks.setIfAbsent(ia!, ib!, rank);
      this.mergedIds[rank] = merged;
    }
    this.unkTokenId = options.unkToken != null ? vocab.get(options.unkToken) : undefined;
  }

  /** Reads `model` of a tokenizer.json. */
  static fromJson(json: any): BpeModel {
    if (json?.type !== 'BPE' && !(json?.type === undefined && json?.merges)) {
      throw new ConfigError(`tokenizer.json: \`model.type\` is ${show(json?.type)}; qlora-ts implements only BPE`);
    }
    for (const field of ['continuing_subword_prefix', 'end_of_word_suffix']) {
      if (json[field]) throw new ConfigError(`tokenizer.json: \`model.${field}\` is ${show(json[field])}; qlora-ts implements byte-level BPE without it`);
    }
    if (json.byte_fallback) throw new ConfigError('tokenizer.json: `model.byte_fallback` is true; qlora-ts implements byte-level BPE without byte fallback');
    if (json.vocab == null || typeof json.vocab !== 'object') throw new ConfigError('tokenizer.json: `model.vocab` is missing');
    if (!Array.isArray(json.merges)) throw new ConfigError('tokenizer.json: `model.merges` is missing or not a list');
    const vocab = new Map<string, number>();
    const entries = json.vocab as Record<string, number>;
    for (const token in entries) vocab.set(token, entries[token]);
    return new BpeModel(vocab, json.merges, { ignoreMerges: Boolean(json.ignore_merges), unkToken: json.unk_token, fuseUnk: Boolean(json.fuse_unk) });
  }

  get size(): number {
    return this.vocab.size;
  }

  /** Encodes one pre-tokenized word (already in the model's alphabet) and appends its ids to `out`. */
  encodeWord(word: string, out: number[]): void {
    if (this.ignoreMerges) {
      const whole = this.vocab.get(word);
      if (whole !== undefined) { out.push(whole); return; }
    }
    // Initial symbols: one per character (code point).
    const ids: number[] = [];
    for (const ch of word) {
      const id = this.vocab.get(ch);
      if (id !== undefined) ids.push(id);
      else if (this.unkTokenId !== undefined && !(this.fuseUnk && ids.length > 0 && ids[ids.length - 1] === this.unkTokenId)) ids.push(this.unkTokenId);
    }
    const n = ids.length;
    if (n < 2) { for (const id of ids) out.push(id); return; }
    if (n <= 24) this.mergeSmall(ids);
    else this.mergeHeap(ids);
    for (const id of ids) if (id >= 0) out.push(id);
  }

  /** Quadratic scan, fastest for short words: merge the lowest-rank, leftmost pair until none. */
  private mergeSmall(ids: number[]): void {
    for (;;) {
      let bestRank = Infinity;
      let bestPos = -1;
      for (let i = 0; i + 1 < ids.length; i++) {
        const rank = this.ranks.get(ids[i], ids[i + 1]);
        if (rank >= 0 && rank < bestRank) { bestRank = rank; bestPos = i; }
      }
      if (bestPos < 0) return;
      ids.splice(bestPos, 2, this.mergedIds[bestRank]);
    }
  }

  /** Linked symbols and a heap of (rank, position), as `tokenizers` does; marks merged-away slots −1. */
  private mergeHeap(ids: number[]): void {
    const n = ids.length;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; }
    const heap: number[] = [];
    const push = (v: number) => {
      heap.push(v);
      let i = heap.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (heap[p] <= v) break;
        heap[i] = heap[p]; i = p;
      }
      heap[i] = v;
    };
    const pop = (): number => {
      const top = heap[0];
      const last = heap.pop()!;
      if (heap.length > 0) {
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          if (l >= heap.length) break;
          const c = l + 1 < heap.length && heap[l + 1] < heap[l] ? l + 1 : l;
          if (heap[c] >= last) break;
          heap[i] = heap[c]; i = c;
        }
        heap[i] = last;
      }
      return top;
    };
    const pairAt = (i: number) => {
      const j = next[i];
      if (j < 0) return;
      const rank = this.ranks.get(ids[i], ids[j]);
      if (rank >= 0) push(rank * POS + i);
    };
    for (let i = 0; i + 1 < n; i++) pairAt(i);
    while (heap.length > 0) {
      const top = pop();
      const rank = Math.floor(top / POS);
      const pos = top - rank * POS;
      const j = next[pos];
      if (ids[pos] < 0 || j < 0) continue;
      // Stale entry: the pair at pos changed since it was pushed.
      if (this.ranks.get(ids[pos], ids[j]) !== rank) continue;
      ids[pos] = this.mergedIds[rank];
      ids[j] = -1;
      next[pos] = next[j];
      if (next[j] >= 0) prev[next[j]] = pos;
      if (prev[pos] >= 0) pairAt(prev[pos]);
      pairAt(pos);
    }
  }
}
