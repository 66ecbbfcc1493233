/**
 * The Porter stemmer as NLTK implements it (nltk/stem/porter.py), in two of its modes:
 *
 * - `NLTK_EXTENSIONS` (NLTK's default, and what Google's rouge_score uses: its DefaultTokenizer
 *   builds `porter.PorterStemmer()` with no mode): the published algorithm plus NLTK's irregular
 *   forms (`skies` → `sky`, `dying` → `die`), `-ies`/`-ied` on four-letter words (`dies` → `die`),
 *   `y` → `i` only after a consonant, the `-bli`, `-alli`, `-fulli`, `-logi` step-2 rules, and words
 *   of one or two letters left alone.
 * - `ORIGINAL_ALGORITHM`: Porter (1980) as published, "An algorithm for suffix stripping".
 *
 * Every step is a list of (suffix, replacement, condition) rules: the first rule whose suffix
 * matches decides, whether or not its condition holds (the paper's "longest matching suffix").
 * Input must be lower case; rouge_score lower-cases before stemming.
 */

export type PorterMode = 'NLTK_EXTENSIONS' | 'ORIGINAL_ALGORITHM';

type Condition = ((stem: string) => boolean) | null;
/** `*d` stands for "ends with a double consonant" (Porter's condition *d). */
type Rule = [suffix: string, replacement: string, condition: Condition];

const IRREGULAR_FORMS: Record<string, string[]> = {
  sky: ['sky', 'skies'],
  die: ['dying'],
  lie: ['lying'],
  tie: ['tying'],
  news: ['news'],
  inning: ['innings', 'inning'],
  outing: ['outings', 'outing'],
  canning: ['cannings', 'canning'],
  howe: ['howe'],
  proceed: ['proceed'],
  exceed: ['exceed'],
  succeed: ['succeed'],
};

const POOL = new Map<string, string>(
  Object.entries(IRREGULAR_FORMS).flatMap(([stem, forms]) => forms.map((f) => [f, stem] as [string, string])),
);

export class PorterStemmer {
  readonly mode: PorterMode;

  constructor(mode: PorterMode = 'NLTK_EXTENSIONS') {
    this.mode = mode;
  }

  stem(word: string): string {
    let w = word.toLowerCase();
    const nltk = this.mode === 'NLTK_EXTENSIONS';
    if (nltk && POOL.has(w)) return POOL.get(w)!;
    if (nltk && w.length <= 2) return w;
    w = this.step1a(w);
    w = this.step1b(w);
    w = this.step1c(w);
    w = this.step2(w);
    w = this.step3(w);
    w = this.step4(w);
    w = this.step5a(w);
    w = this.step5b(w);
    return w;
  }

  /** A consonant is not a, e, i, o, u, and not a y after a consonant. */
  isConsonant(word: string, i: number): boolean {
    const ch = word[i];
    if (ch === 'a' || ch === 'e' || ch === 'i' || ch === 'o' || ch === 'u') return false;
    if (ch === 'y') return i === 0 ? true : !this.isConsonant(word, i - 1);
    return true;
  }

  /** Porter's m: the number of vowel-consonant sequences in [C](VC){m}[V]. */
  measure(stem: string): number {
    let m = 0;
    let prevVowel = false;
    for (let i = 0; i < stem.length; i++) {
      const consonant = this.isConsonant(stem, i);
      if (consonant && prevVowel) m++;
      prevVowel = !consonant;
    }
    return m;
  }

  private containsVowel(stem: string): boolean {
    for (let i = 0; i < stem.length; i++) if (!this.isConsonant(stem, i)) return true;
    return false;
  }

  private endsDoubleConsonant(word: string): boolean {
    const n = word.length;
    return n >= 2 && word[n - 1] === word[n - 2] && this.isConsonant(word, n - 1);
  }

  /** Condition *o: ends consonant-vowel-consonant, the last not w, x or y (NLTK: also a two-letter vc). */
  private endsCvc(word: string): boolean {
    const n = word.length;
    if (n >= 3 && this.isConsonant(word, n - 3) && !this.isConsonant(word, n - 2) && this.isConsonant(word, n - 1) &&
      !'wxy'.includes(word[n - 1])) return true;
    return this.mode === 'NLTK_EXTENSIONS' && n === 2 && !this.isConsonant(word, 0) && this.isConsonant(word, 1);
  }

  private positive = (stem: string): boolean => this.measure(stem) > 0;

  private applyRules(word: string, rules: Rule[]): string {
    for (const [suffix, replacement, condition] of rules) {
      if (suffix === '*d') {
        if (!this.endsDoubleConsonant(word)) continue;
        const stem = word.slice(0, -2);
        return condition === null || condition(stem) ? stem + replacement : word;
      }
      if (!word.endsWith(suffix)) continue;
      const stem = word.slice(0, word.length - suffix.length);
      return condition === null || condition(stem) ? stem + replacement : word;
    }
    return word;
  }

  private step1a(word: string): string {
    if (this.mode === 'NLTK_EXTENSIONS' && word.endsWith('ies') && word.length === 4) return word.slice(0, -3) + 'ie';
    return this.applyRules(word, [['sses', 'ss', null], ['ies', 'i', null], ['ss', 'ss', null], ['s', '', null]]);
  }

  private step1b(word: string): string {
    if (this.mode === 'NLTK_EXTENSIONS' && word.endsWith('ied')) {
      return word.slice(0, -3) + (word.length === 4 ? 'ie' : 'i');
    }
    if (word.endsWith('eed')) {
      const stem = word.slice(0, -3);
      return this.measure(stem) > 0 ? stem + 'ee' : word;
    }
    let stem: string | undefined;
    for (const suffix of ['ed', 'ing']) {
      if (word.endsWith(suffix) && this.containsVowel(word.slice(0, -suffix.length))) {
        stem = word.slice(0, -suffix.length);
        break;
      }
    }
    if (stem === undefined) return word;
    const last = stem[stem.length - 1];
    return this.applyRules(stem, [
      ['at', 'ate', null],
      ['bl', 'ble', null],
      ['iz', 'ize', null],
      ['*d', last, () => !'lsz'.includes(last)],
      ['', 'e', (s) => this.measure(s) === 1 && this.endsCvc(s)],
    ]);
  }

  private step1c(word: string): string {
    const condition = this.mode === 'NLTK_EXTENSIONS'
      ? (stem: string) => stem.length > 1 && this.isConsonant(stem, stem.length - 1)
      : (stem: string) => this.containsVowel(stem);
    return this.applyRules(word, [['y', 'i', condition]]);
  }

  private step2(word: string): string {
    const nltk = this.mode === 'NLTK_EXTENSIONS';
    if (nltk && word.endsWith('alli') && this.positive(word.slice(0, -4))) return this.step2(word.slice(0, -4) + 'al');
    const p = this.positive;
    const rules: Rule[] = [
      ['ational', 'ate', p], ['tional', 'tion', p], ['enci', 'ence', p], ['anci', 'ance', p], ['izer', 'ize', p],
      nltk ? ['bli', 'ble', p] : ['abli', 'able', p],
      ['alli', 'al', p], ['entli', 'ent', p], ['eli', 'e', p], ['ousli', 'ous', p], ['ization', 'ize', p],
      ['ation', 'ate', p], ['ator', 'ate', p], ['alism', 'al', p], ['iveness', 'ive', p], ['fulness', 'ful', p],
      ['ousness', 'ous', p], ['aliti', 'al', p], ['iviti', 'ive', p], ['biliti', 'ble', p],
    ];
    if (nltk) {
      rules.push(['fulli', 'ful', p]);
      // The l of -logi stays with the stem, so short stems (geo-, theo-) behave like archaeo-.
      rules.push(['logi', 'log', () => this.positive(word.slice(0, -3))]);
    }
    return this.applyRules(word, rules);
  }

  private step3(word: string): string {
    const p = this.positive;
    return this.applyRules(word, [
      ['icate', 'ic', p], ['ative', '', p], ['alize', 'al', p], ['iciti', 'ic', p], ['ical', 'ic', p], ['ful', '', p],
      ['ness', '', p],
    ]);
  }

  private step4(word: string): string {
    const gt1 = (stem: string) => this.measure(stem) > 1;
    return this.applyRules(word, [
      ['al', '', gt1], ['ance', '', gt1], ['ence', '', gt1], ['er', '', gt1], ['ic', '', gt1], ['able', '', gt1],
      ['ible', '', gt1], ['ant', '', gt1], ['ement', '', gt1], ['ment', '', gt1], ['ent', '', gt1],
      ['ion', '', (s) => this.measure(s) > 1 && (s.endsWith('s') || s.endsWith('t'))],
      ['ou', '', gt1], ['ism', '', gt1], ['ate', '', gt1], ['iti', '', gt1], ['ous', '', gt1], ['ive', '', gt1],
      ['ize', '', gt1],
    ]);
  }

  private step5a(word: string): string {
    if (!word.endsWith('e')) return word;
    const stem = word.slice(0, -1);
    const m = this.measure(stem);
    return m > 1 || (m === 1 && !this.endsCvc(stem)) ? stem : word;
  }

  private step5b(word: string): string {
    return this.applyRules(word, [['ll', 'l', () => this.measure(word.slice(0, -1)) > 1]]);
  }
}
