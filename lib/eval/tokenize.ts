/**
 * rouge_score's default tokenizer (rouge/tokenize.py, the Perl ROUGE-1.5.5 normalisation):
 * lower-case, replace every run of characters outside [a-z0-9] with a space, split on
 * whitespace, Porter-stem tokens longer than 3 characters when asked, drop empty tokens.
 */
import { PorterStemmer, type PorterMode } from './porter';

/** Anything that turns a text into tokens: rouge_score's `Tokenizer.tokenize`, or a plain function. */
export interface RougeTokenizer {
  tokenize(text: string): string[];
}

const NON_ALPHANUM = /[^a-z0-9]+/g;
const VALID_TOKEN = /^[a-z0-9]+$/;

export class DefaultTokenizer implements RougeTokenizer {
  private readonly stemmer: PorterStemmer | undefined;
  /** Stems are cached: summaries repeat the same words (rouge_score's lru_cache does the same). */
  private readonly cache = new Map<string, string>();

  constructor(useStemmer = false, stemmerMode: PorterMode = 'NLTK_EXTENSIONS') {
    this.stemmer = useStemmer ? new PorterStemmer(stemmerMode) : undefined;
  }

  tokenize(text: string): string[] {
    const tokens = text.toLowerCase().replace(NON_ALPHANUM, ' ').split(/\s+/);
    const out: string[] = [];
    for (const token of tokens) {
      const t = this.stemmer && token.length > 3 ? this.stem(token) : token;
      if (VALID_TOKEN.test(t)) out.push(t);
    }
    return out;
  }

  private stem(token: string): string {
    let s = this.cache.get(token);
    if (s === undefined) {
      s = this.stemmer!.stem(token);
      this.cache.set(token, s);
    }
    return s;
  }
}

/** Wraps a `(text) => tokens` function as evaluate's rouge does with its `tokenizer` argument. */
export function asRougeTokenizer(tokenizer: RougeTokenizer | ((text: string) => string[])): RougeTokenizer {
  return typeof tokenizer === 'function' ? { tokenize: tokenizer } : tokenizer;
}
