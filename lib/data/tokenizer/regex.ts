import { ConfigError, show } from '../../errors';

/**
 * `tokenizers` compiles pre-tokenizer patterns with Oniguruma; JavaScript's RegExp differs in a few
 * places that matter for exact ids. This translates an Oniguruma pattern to a `u`-flag RegExp:
 * - `\s` is Unicode White_Space in Oniguruma (it includes U+0085 and excludes U+FEFF; JS is the
 *   other way round), so it becomes the explicit class `[\t-\r\x85\p{Z}]`; `\S` its complement.
 * - `\d` and `\w` are Unicode-aware in Oniguruma, ASCII in JS: `\p{Nd}` and `[\p{L}\p{M}\p{Nd}\p{Pc}]`.
 * - Scoped case-insensitive groups `(?i:...)` (not in Node 20's RegExp) expand each letter into a
 *   class of its case variants under Unicode simple case folding (`s` → `[sSſ]`).
 */
const WS = '\\t-\\r\\x85\\p{Z}';
const WORD = '\\p{L}\\p{M}\\p{Nd}\\p{Pc}';

/** Extra simple case folds beyond toLowerCase/toUpperCase that reach ASCII letters. */
const EXTRA_FOLDS: Record<string, string> = { s: 'ſ', k: '\u212a' };

function caseVariants(ch: string): string[] {
  const set = new Set([ch, ch.toLowerCase(), ch.toUpperCase()].filter((c) => [...c].length === 1));
  const extra = EXTRA_FOLDS[ch.toLowerCase()];
  if (extra) set.add(extra);
  return [...set];
}

function escapeClassChar(ch: string): string {
  return /[\\\]\[^-]/.test(ch) ? `\\${ch}` : ch;
}

/** Translates an Oniguruma pattern (as in tokenizer.json `Split.pattern.Regex`) to a JS RegExp source. */
export function onigToJs(pattern: string, field = 'pre_tokenizer.pattern.Regex'): string {
  let out = '';
  let inClass = false;
  // One entry per open group: whether it is case-insensitive.
  const groups: boolean[] = [];
  const insensitive = () => groups.some(Boolean);
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c === '\\') {
      const n = chars[++i];
      if (n === undefined) throw new ConfigError(`tokenizer.json: \`${field}\` ends with a lone backslash: ${show(pattern)}`);
      if (n === 's') out += inClass ? WS : `[${WS}]`;
      else if (n === 'S') {
        if (inClass) throw new ConfigError(`tokenizer.json: \`${field}\` uses \\S inside a character class, which qlora-ts cannot translate: ${show(pattern)}`);
        out += `[^${WS}]`;
      } else if (n === 'd') out += '\\p{Nd}';
      else if (n === 'D') out += inClass ? '\\P{Nd}' : '\\P{Nd}';
      else if (n === 'w') out += inClass ? WORD : `[${WORD}]`;
      else if (n === 'W') {
        if (inClass) throw new ConfigError(`tokenizer.json: \`${field}\` uses \\W inside a character class, which qlora-ts cannot translate: ${show(pattern)}`);
        out += `[^${WORD}]`;
      } else if (n === 'p' || n === 'P') {
        // \p{L}, \pL → \p{L}
        if (chars[i + 1] === '{') {
          const end = chars.indexOf('}', i);
          out += `\\${n}${chars.slice(i + 1, end + 1).join('')}`;
          i = end;
        } else out += `\\${n}{${chars[++i]}}`;
      } else out += `\\${n}`;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      if (c !== ']' && insensitive() && /\p{L}/u.test(c) && chars[i + 1] !== '-' && chars[i - 1] !== '-') {
        out += caseVariants(c).map(escapeClassChar).join('');
      } else out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      if (chars[i + 1] === '^') { out += '^'; i++; }
      if (chars[i + 1] === ']') { out += '\\]'; i++; }
      continue;
    }
    if (c === '(') {
      if (chars[i + 1] === '?' && chars[i + 2] === 'i' && chars[i + 3] === ':') {
        groups.push(true);
        out += '(?:';
        i += 3;
      } else if (chars[i + 1] === '?' && /[imx-]/.test(chars[i + 2] ?? '') && chars[i + 2] !== 'i') {
        throw new ConfigError(`tokenizer.json: \`${field}\` uses an inline flag group qlora-ts cannot translate: ${show(pattern)}`);
      } else {
        groups.push(false);
        out += c;
      }
      continue;
    }
    if (c === ')') {
      groups.pop();
      out += c;
      continue;
    }
    if (insensitive() && /\p{L}/u.test(c)) {
      const variants = caseVariants(c);
      out += variants.length > 1 ? `[${variants.map(escapeClassChar).join('')}]` : c;
      continue;
    }
    out += c;
  }
  return out;
}

/** Compiles a tokenizer.json pattern: `{ Regex: onig }` or `{ String: literal }`, global + unicode. */
export function compilePattern(pattern: { Regex?: string; String?: string }, field: string): RegExp {
  let source: string;
  if (typeof pattern?.Regex === 'string') source = onigToJs(pattern.Regex, field);
  else if (typeof pattern?.String === 'string') source = pattern.String.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  else throw new ConfigError(`tokenizer.json: \`${field}\` must be {"Regex": ...} or {"String": ...}, got ${show(JSON.stringify(pattern))}`);
  try {
    return new RegExp(source, 'gu');
  } catch (err) {
    throw new ConfigError(`tokenizer.json: \`${field}\` does not compile as a JavaScript regex: ${(err as Error).message}`,
      'qlora-ts translates Oniguruma patterns; report the pattern if it is valid in `tokenizers`.');
  }
}
