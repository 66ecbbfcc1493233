/**
 * ROUGE with Hugging Face evaluate's shape: `evaluate.load('rouge').compute({ predictions,
 * references, rougeTypes, useStemmer, useAggregator, tokenizer })` → `{ rouge1, rouge2, rougeL,
 * rougeLsum }`, the F-measures, scored exactly as Google's rouge_score.
 *
 * Defaults follow evaluate: all four types, no stemming (the walkthrough passes
 * `useStemmer: true`), aggregated. Aggregation defaults to `'bootstrap'` (the median of 1000
 * bootstrap means of F, seeded), because that is what evaluate reports and what the walkthrough's
 * printed numbers are; `aggregator: 'mean'` gives the plain mean, which the bootstrap median
 * estimates to within resampling noise (≈ 0.001 on 10 rows of scores spread over 0.2–0.5).
 */
import { ArgumentError, show } from '../errors';
import { BootstrapAggregator, meanAggregate, type AggregateScore } from './aggregate';
import { RougeScorer, type RougeScores } from './rouge_scorer';
import { asRougeTokenizer, type RougeTokenizer } from './tokenize';
import type { PorterMode } from './porter';

export const DEFAULT_ROUGE_TYPES = ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'];

export interface RougeComputeArgs {
  predictions: string[];
  /** One reference per prediction, or a list of references (the best-scoring one counts, per type). */
  references: (string | string[])[];
  rougeTypes?: string[];
  useStemmer?: boolean;
  /** true (default): one number per type; false: one number per prediction per type. */
  useAggregator?: boolean;
  /** Replaces rouge_score's tokenizer (and its stemmer): a `(text) => tokens` function or `{ tokenize }`. */
  tokenizer?: RougeTokenizer | ((text: string) => string[]);
  /** How to aggregate: evaluate's bootstrap median (default) or the plain mean. */
  aggregator?: 'bootstrap' | 'mean';
  /** Seed of the bootstrap resampling (default 42). */
  seed?: number;
  /** Porter variant (default `NLTK_EXTENSIONS`, as rouge_score). */
  stemmerMode?: PorterMode;
}

export type RougeResult = Record<string, number>;
export type RougePerSample = Record<string, number[]>;

function validate(args: RougeComputeArgs): void {
  if (!Array.isArray(args.predictions) || !Array.isArray(args.references)) {
    throw new ArgumentError('`predictions` and `references` must be arrays of strings.',
      'Pass rouge.compute({ predictions: [...], references: [...] }).');
  }
  if (args.predictions.length !== args.references.length) {
    throw new ArgumentError(`\`predictions\` has ${args.predictions.length} items but \`references\` has ${args.references.length}.`,
      'Give one reference (or one list of references) per prediction.');
  }
  args.predictions.forEach((p, i) => {
    if (typeof p !== 'string') throw new ArgumentError(`\`predictions[${i}]\` is ${show(p)}, not a string.`, 'Decode generated ids to text first.');
  });
}

/** Per-sample rouge_score `Score`s (precision, recall, F) for each prediction. */
export function scoreAll(args: RougeComputeArgs): RougeScores[] {
  validate(args);
  const scorer = new RougeScorer(args.rougeTypes ?? DEFAULT_ROUGE_TYPES, {
    useStemmer: args.useStemmer ?? false,
    stemmerMode: args.stemmerMode,
    tokenizer: args.tokenizer ? asRougeTokenizer(args.tokenizer) : undefined,
  });
  return args.predictions.map((prediction, i) => {
    const ref = args.references[i];
    return Array.isArray(ref) ? scorer.scoreMulti(ref, prediction) : scorer.score(ref, prediction);
  });
}

function compute(args: RougeComputeArgs & { useAggregator: false }): RougePerSample;
function compute(args: RougeComputeArgs): RougeResult;
function compute(args: RougeComputeArgs): RougeResult | RougePerSample {
  const scores = scoreAll(args);
  const types = args.rougeTypes ?? DEFAULT_ROUGE_TYPES;
  if (args.useAggregator === false) {
    return Object.fromEntries(types.map((t) => [t, scores.map((s) => s[t].fmeasure)]));
  }
  if (args.aggregator === 'mean') {
    const mean = meanAggregate(scores);
    return Object.fromEntries(types.map((t) => [t, mean[t]?.fmeasure ?? 0]));
  }
  const intervals = bootstrap(scores, args.seed);
  return Object.fromEntries(types.map((t) => [t, intervals[t]?.mid.fmeasure ?? 0]));
}

function bootstrap(scores: RougeScores[], seed?: number): Record<string, AggregateScore> {
  const agg = new BootstrapAggregator({ seed });
  for (const s of scores) agg.addScores(s);
  return agg.aggregate();
}

/** Bootstrap low / mid / high of precision, recall and F per type (rouge_score's AggregateScore). */
function computeIntervals(args: RougeComputeArgs): Record<string, AggregateScore> {
  return bootstrap(scoreAll(args), args.seed);
}

/** The metric object `evaluate.load('rouge')` returns. */
export const rouge = {
  name: 'rouge',
  compute,
  computeIntervals,
};

/** A tiny `evaluate` namespace: `evaluate.load('rouge')`. */
export const evaluate = {
  load(name: string): typeof rouge {
    if (name !== 'rouge') {
      throw new ArgumentError(`\`evaluate.load\` got ${show(name)}; qlora-ts ships only the rouge metric.`, "Use evaluate.load('rouge').");
    }
    return rouge;
  },
};
