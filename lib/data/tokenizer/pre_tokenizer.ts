import { ConfigError, show } from '../../errors';
import { compilePattern } from './regex';

/** GPT-2's pattern, used by a ByteLevel pre-tokenizer with `use_regex: true`. */
export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** Llama 3's pattern (tokenizer.json `pre_tokenizer.pretokenizers[0].pattern.Regex`). */
export const LLAMA3_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

type Behavior = 'Isolated' | 'Removed' | 'MergedWithPrevious' | 'MergedWithNext' | 'Contiguous';

/**
 * A pre-tokenizer splits text into pieces ("words") that the model encodes independently.
 * `byteLevel` says whether the pieces are spelled in the byte-level alphabet before the model
 * sees them (the ByteLevel pre-tokenizer); the splitting itself runs on the original text, so a
 * piece can key a word cache.
 */
export interface PreTokenizer {
  split(text: string): string[];
  readonly byteLevel: boolean;
  /** Set when the whole pre-tokenizer is one Isolated regex split: callers may iterate matches directly. */
  readonly isolatedRegex: RegExp | null;
  /** The same regex with the sticky flag (matches only at `lastIndex`). */
  readonly isolatedSticky: RegExp | null;
}

type Step = (pieces: string[]) => string[];

/** Splits each piece on a regex, keeping matches and gaps as `tokenizers`' `Split` does. */
function splitStep(re: RegExp, behavior: Behavior, invert: boolean): Step {
  return (pieces) => {
    const out: string[] = [];
    for (const piece of pieces) {
      // (isMatch, text) spans covering the piece in order.
      const spans: [boolean, string][] = [];
      let last = 0;
      re.lastIndex = 0;
      for (let m = re.exec(piece); m !== null; m = re.exec(piece)) {
        if (m[0].length === 0) { re.lastIndex++; continue; }
        if (m.index > last) spans.push([invert, piece.slice(last, m.index)]);
        spans.push([!invert, m[0]]);
        last = m.index + m[0].length;
      }
      if (last < piece.length) spans.push([invert, piece.slice(last)]);
      if (behavior === 'Isolated') for (const [, s] of spans) out.push(s);
      else if (behavior === 'Removed') for (const [isMatch, s] of spans) { if (!isMatch) out.push(s); }
      else if (behavior === 'MergedWithPrevious') {
        let cur = '';
        for (const [isMatch, s] of spans) {
          cur += s;
          if (isMatch) { out.push(cur); cur = ''; }
        }
        if (cur) out.push(cur);
      } else if (behavior === 'MergedWithNext') {
        // The span after a match joins it (as `tokenizers`: a run of matches becomes one piece).
        let previousMatch = false;
        const pieces: string[] = [];
        for (const [isMatch, s] of spans) {
          if (previousMatch && pieces.length > 0) pieces[pieces.length - 1] += s;
          else pieces.push(s);
          previousMatch = isMatch;
        }
        out.push(...pieces);
      } else {
        let cur = '';
        let curMatch: boolean | null = null;
        for (const [isMatch, s] of spans) {
          if (isMatch && curMatch === true) cur += s;
          else { if (cur) out.push(cur); cur = s; curMatch = isMatch; }
        }
        if (cur) out.push(cur);
      }
    }
    return out;
  };
}

/** Fast path for the common case: one Isolated regex over one piece (Llama 3, GPT-2). */
function isolatedSplit(re: RegExp, text: string): string[] {
  const out: string[] = [];
  let last = 0;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const s = m[0];
    if (s.length === 0) { re.lastIndex++; continue; }
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(s);
    last = m.index + s.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** Builds the pre-tokenizer named by tokenizer.json's `pre_tokenizer` field. */
export function buildPreTokenizer(json: any): PreTokenizer {
  const steps: Step[] = [];
  let byteLevel = false;
  let fastRe: RegExp | null = null;
  const add = (node: any, field: string) => {
    switch (node?.type) {
      case 'Sequence':
        (node.pretokenizers as any[] ?? []).forEach((p, i) => add(p, `${field}.pretokenizers[${i}]`));
        return;
      case 'Split': {
        const behavior = (node.behavior ?? 'Isolated') as Behavior;
        if (!['Isolated', 'Removed', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'].includes(behavior)) {
          throw new ConfigError(`tokenizer.json: \`${field}.behavior\` is ${show(behavior)}, which qlora-ts does not implement`);
        }
        const re = compilePattern(node.pattern, `${field}.pattern`);
        if (behavior === 'Isolated' && !node.invert && steps.length === 0) fastRe = re;
        else fastRe = null;
        steps.push(splitStep(re, behavior, Boolean(node.invert)));
        return;
      }
      case 'ByteLevel': {
        byteLevel = true;
        const prefix = Boolean(node.add_prefix_space);
        if (prefix) {
          fastRe = null;
          steps.push((pieces) => pieces.map((p) => (p.startsWith(' ') ? p : ` ${p}`)));
        }
        if (node.use_regex !== false) {
          fastRe = null;
          steps.push(splitStep(compilePattern({ Regex: GPT2_PATTERN }, `${field} (use_regex)`), 'Isolated', false));
        }
        return;
      }
      case 'Whitespace':
        fastRe = null;
        steps.push(splitStep(/\w+|[^\w\s]+/gu, 'Isolated', false));
        steps.push((pieces) => pieces.filter((p) => !/^\s+$/u.test(p)));
        return;
      default:
        throw new ConfigError(`tokenizer.json: \`${field}.type\` is ${show(node?.type)}, which qlora-ts does not implement`,
          'supported pre-tokenizers: Sequence, Split (Isolated/Removed/Merged*/Contiguous), ByteLevel, Whitespace.');
    }
  };
  if (json != null) add(json, 'pre_tokenizer');
  const onlyFast: RegExp | null = steps.length === 1 ? (fastRe as RegExp | null) : null;
  return {
    byteLevel,
    isolatedRegex: onlyFast,
    isolatedSticky: onlyFast ? new RegExp(onlyFast.source, 'uy') : null,
    split: onlyFast
      ? (text) => isolatedSplit(onlyFast, text)
      : (text) => steps.reduce((pieces, step) => step(pieces), [text]).filter((p) => p.length > 0),
  };
}
