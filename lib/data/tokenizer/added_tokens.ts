import { ConfigError, show } from '../../errors';

/** One entry of tokenizer.json `added_tokens` (special tokens and user-added tokens). */
export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  single_word?: boolean;
  normalized?: boolean;
}

/** A piece of input text: plain text for the model, or the id of an added token found in it. */
export type Segment = string | number;

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * The added vocabulary: finds added tokens in raw text before normalization and pre-tokenization,
 * leftmost-longest like `tokenizers`' Aho-Corasick matcher, honouring `lstrip`/`rstrip` (the token
 * absorbs whitespace on that side) and `single_word` (only matches between non-word characters).
 */
export class AddedVocabulary {
  readonly tokens: AddedToken[];
  readonly byContent = new Map<string, AddedToken>();
  readonly byId = new Map<number, AddedToken>();
  private matcher: RegExp | null;

  constructor(tokens: AddedToken[]) {
    this.tokens = tokens;
    tokens.forEach((t, i) => {
      if (typeof t?.content !== 'string' || !Number.isInteger(t?.id)) {
        throw new ConfigError(`tokenizer.json: \`added_tokens[${i}]\` needs an integer \`id\` and a string \`content\`, got ${show(JSON.stringify(t))}`);
      }
      this.byContent.set(t.content, t);
      this.byId.set(t.id, t);
    });
    const sorted = [...tokens].filter((t) => t.content.length > 0).sort((a, b) => b.content.length - a.content.length);
    const alternatives = sorted.map((t) => {
      let s = `(${escape(t.content)})`;
      if (t.single_word) s = `(?<![\\p{L}\\p{N}_])${s}(?![\\p{L}\\p{N}_])`;
      if (t.lstrip) s = `\\s*${s}`;
      if (t.rstrip) s = `${s}\\s*`;
      return s;
    });
    this.matcher = alternatives.length > 0 ? new RegExp(alternatives.join('|'), 'gu') : null;
    this.groupToken = sorted;
  }

  /** Capture group i+1 of the matcher belongs to groupToken[i]. */
  private readonly groupToken: AddedToken[];

  /** Splits text into plain-text segments and added-token ids. */
  split(text: string): Segment[] {
    if (this.matcher === null) return [text];
    const out: Segment[] = [];
    const re = this.matcher;
    re.lastIndex = 0;
    let last = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m[0].length === 0) { re.lastIndex++; continue; }
      if (m.index > last) out.push(text.slice(last, m.index));
      let g = 1;
      while (m[g] === undefined) g++;
      out.push(this.groupToken[g - 1].id);
      last = m.index + m[0].length;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }

  isSpecial(id: number): boolean {
    return this.byId.get(id)?.special === true;
  }
}
