/**
 * rouge_score's RougeScorer: ROUGE-N (clipped n-gram overlap), ROUGE-L (longest common
 * subsequence over the whole text) and ROUGE-Lsum (summary-level union LCS over newline-separated
 * sentences, with ROUGE-1.5.5's guard against counting a token twice), for one reference
 * (`score`) or several (`scoreMulti`: per type, the reference with the highest F wins).
 */
import { ArgumentError, show } from '../errors';
import { DefaultTokenizer, type RougeTokenizer } from './tokenize';
import type { PorterMode } from './porter';

/** Precision, recall and F1 of one ROUGE type for one prediction (rouge_score's `Score`). */
export interface Score {
  precision: number;
  recall: number;
  fmeasure: number;
}

export type RougeScores = Record<string, Score>;

export interface RougeScorerOptions {
  useStemmer?: boolean;
  /** Porter variant; rouge_score uses NLTK's default, `NLTK_EXTENSIONS`. */
  stemmerMode?: PorterMode;
  /** Replaces the default tokenizer (and its stemmer), as rouge_score's `tokenizer=`. */
  tokenizer?: RougeTokenizer;
}

const ROUGE_N = /^rouge([1-9])$/;

export function fmeasure(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

export class RougeScorer {
  readonly rougeTypes: string[];
  private readonly tokenizer: RougeTokenizer;

  constructor(rougeTypes: string[], options: RougeScorerOptions = {}) {
    for (const t of rougeTypes) {
      if (t !== 'rougeL' && t !== 'rougeLsum' && !ROUGE_N.test(t)) {
        throw new ArgumentError(`\`rougeTypes\` has ${show(t)}, which is not a ROUGE type.`,
          'Use rouge1 … rouge9, rougeL or rougeLsum.');
      }
    }
    this.rougeTypes = [...rougeTypes];
    this.tokenizer = options.tokenizer ?? new DefaultTokenizer(options.useStemmer ?? false, options.stemmerMode);
  }

  /** Scores `prediction` against one `target` (rouge_score's argument order: target first). */
  score(target: string, prediction: string): RougeScores {
    const onlyLsum = this.rougeTypes.length === 1 && this.rougeTypes[0] === 'rougeLsum';
    const targetTokens = onlyLsum ? [] : this.tokenizer.tokenize(target);
    const predictionTokens = onlyLsum ? [] : this.tokenizer.tokenize(prediction);
    const result: RougeScores = {};
    for (const type of this.rougeTypes) {
      if (type === 'rougeL') {
        result[type] = scoreLcs(targetTokens, predictionTokens);
      } else if (type === 'rougeLsum') {
        const sentences = (text: string) => text.split('\n').filter((s) => s.length > 0).map((s) => this.tokenizer.tokenize(s));
        result[type] = summaryLevelLcs(sentences(target), sentences(prediction));
      } else {
        const n = Number(ROUGE_N.exec(type)![1]);
        result[type] = scoreNgrams(ngrams(targetTokens, n), ngrams(predictionTokens, n));
      }
    }
    return result;
  }

  /** Several references for one prediction: per type, the score of the reference with the best F. */
  scoreMulti(targets: string[], prediction: string): RougeScores {
    if (targets.length === 0) throw new ArgumentError('`references` has an empty list for one prediction.', 'Give each prediction at least one reference.');
    const all = targets.map((t) => this.score(t, prediction));
    const result: RougeScores = {};
    for (const type of this.rougeTypes) {
      let best = 0;
      for (let i = 1; i < all.length; i++) if (all[i][type].fmeasure > all[best][type].fmeasure) best = i;
      result[type] = all[best][type];
    }
    return result;
  }
}

/** n-gram → count; n-grams are keyed by their tokens joined with a space (tokens hold no spaces). */
export function ngrams(tokens: string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join(' ');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function total(counts: Map<string, number>): number {
  let s = 0;
  for (const c of counts.values()) s += c;
  return s;
}

export function scoreNgrams(target: Map<string, number>, prediction: Map<string, number>): Score {
  let overlap = 0;
  for (const [gram, count] of target) overlap += Math.min(count, prediction.get(gram) ?? 0);
  const precision = overlap / Math.max(total(prediction), 1);
  const recall = overlap / Math.max(total(target), 1);
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/** The LCS dynamic-programming table, (ref.length + 1) × (can.length + 1), row-major. */
function lcsTable(ref: string[], can: string[]): Int32Array {
  const cols = can.length + 1;
  const t = new Int32Array((ref.length + 1) * cols);
  for (let i = 1; i <= ref.length; i++) {
    for (let j = 1; j <= can.length; j++) {
      t[i * cols + j] = ref[i - 1] === can[j - 1]
        ? t[(i - 1) * cols + j - 1] + 1
        : Math.max(t[(i - 1) * cols + j], t[i * cols + j - 1]);
    }
  }
  return t;
}

export function lcsLength(ref: string[], can: string[]): number {
  return lcsTable(ref, can)[(ref.length + 1) * (can.length + 1) - 1];
}

/** Indices into `ref` of one LCS, read back as rouge_score's `_backtrack_norec` does. */
export function lcsIndices(ref: string[], can: string[]): number[] {
  const t = lcsTable(ref, can);
  const cols = can.length + 1;
  const out: number[] = [];
  let i = ref.length;
  let j = can.length;
  while (i > 0 && j > 0) {
    if (ref[i - 1] === can[j - 1]) {
      out.push(i - 1);
      i--;
      j--;
    } else if (t[i * cols + j - 1] > t[(i - 1) * cols + j]) {
      j--;
    } else {
      i--;
    }
  }
  return out.reverse();
}

export function scoreLcs(target: string[], prediction: string[]): Score {
  if (target.length === 0 || prediction.length === 0) return { precision: 0, recall: 0, fmeasure: 0 };
  const lcs = lcsLength(target, prediction);
  const precision = lcs / prediction.length;
  const recall = lcs / target.length;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

function countTokens(sentences: string[][]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of sentences) for (const t of s) counts.set(t, (counts.get(t) ?? 0) + 1);
  return counts;
}

/** Summary-level LCS (ROUGE paper §3.2): union LCS of each reference sentence with all candidate sentences. */
export function summaryLevelLcs(refSents: string[][], canSents: string[][]): Score {
  const zero = { precision: 0, recall: 0, fmeasure: 0 };
  if (refSents.length === 0 || canSents.length === 0) return zero;
  const m = refSents.reduce((a, s) => a + s.length, 0);
  const n = canSents.reduce((a, s) => a + s.length, 0);
  if (m === 0 || n === 0) return zero;
  const refCounts = countTokens(refSents);
  const canCounts = countTokens(canSents);
  let hits = 0;
  for (const ref of refSents) {
    const union = new Set<number>();
    for (const can of canSents) for (const i of lcsIndices(ref, can)) union.add(i);
    for (const i of [...union].sort((a, b) => a - b)) {
      const token = ref[i];
      if ((canCounts.get(token) ?? 0) > 0 && (refCounts.get(token) ?? 0) > 0) {
        hits++;
        canCounts.set(token, canCounts.get(token)! - 1);
        refCounts.set(token, refCounts.get(token)! - 1);
      }
    }
  }
  const recall = hits / m;
  const precision = hits / n;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}
