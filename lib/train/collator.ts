import { ArgumentError, DatasetError, show } from '../errors';
import { IGNORE_INDEX } from '../nn/cross_entropy';

/** What the collators need of a tokenizer (AutoTokenizer has it). */
export interface CollatorTokenizer {
  padTokenId: number | null;
  paddingSide: 'left' | 'right';
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
}

/** One example: token ids, optionally its own attention mask (other columns are ignored). */
export interface Example {
  input_ids: number[];
  attention_mask?: number[];
  [column: string]: unknown;
}

/** A padded batch with transformers' keys; every row has the same length. */
export interface Batch {
  input_ids: number[][];
  attention_mask: number[][];
  labels: number[][];
}

export type DataCollator = (examples: Example[]) => Batch;

export interface LanguageModelingCollatorOptions {
  tokenizer: CollatorTokenizer;
  /** Masked-LM is not supported: causal LM only (mlm: false), as the walkthrough uses. */
  mlm?: boolean;
  /** Round the padded length up to a multiple of this. */
  padToMultipleOf?: number;
}

/**
 * transformers' DataCollatorForLanguageModeling(tokenizer, mlm=False) as a function: pads to the
 * longest row with the tokenizer's pad id on its padding side, attention_mask 0 on padding, and
 * labels = input_ids with every position holding the pad id set to -100. As in transformers this
 * also ignores real tokens equal to the pad id (with pad = eos, the eos token is not learned).
 */
export function DataCollatorForLanguageModeling(options: LanguageModelingCollatorOptions): DataCollator {
  const { tokenizer, mlm = false, padToMultipleOf } = options;
  if (mlm) throw new ArgumentError('DataCollatorForLanguageModeling: `mlm` true (masked LM) is not supported', 'pass mlm: false for causal language modelling');
  const pad = tokenizer?.padTokenId;
  if (pad === null || pad === undefined) throw new ArgumentError('DataCollatorForLanguageModeling: the tokenizer has no pad token (`pad_token_id` is null)', 'set tokenizer.padToken = tokenizer.eosToken, as the walkthrough does');
  return (examples) => {
    const batch = padExamples(examples, pad, tokenizer.paddingSide, padToMultipleOf);
    batch.labels = batch.input_ids.map((row) => row.map((id) => (id === pad ? IGNORE_INDEX : id)));
    return batch;
  };
}

/** Pads rows to one length; labels are input_ids with the padded positions -100. */
export function padExamples(examples: Example[], padId: number, side: 'left' | 'right', multiple?: number): Batch {
  if (!Array.isArray(examples) || examples.length === 0) throw new DatasetError('collator: got an empty batch');
  examples.forEach((e, i) => {
    if (!e || !Array.isArray(e.input_ids)) throw new DatasetError(`collator: example ${i} has no \`input_ids\` array (keys: ${show(Object.keys(e ?? {}))})`, 'tokenize the dataset first, e.g. dataset.map(row => tokenizer(row.text))');
  });
  let T = Math.max(...examples.map((e) => e.input_ids.length));
  if (multiple && multiple > 1) T = Math.ceil(T / multiple) * multiple;
  const input_ids: number[][] = [];
  const attention_mask: number[][] = [];
  for (const e of examples) {
    const n = T - e.input_ids.length;
    const mask = e.attention_mask ?? e.input_ids.map(() => 1);
    const fill = (v: number) => new Array<number>(n).fill(v);
    input_ids.push(side === 'left' ? [...fill(padId), ...e.input_ids] : [...e.input_ids, ...fill(padId)]);
    attention_mask.push(side === 'left' ? [...fill(0), ...mask] : [...mask, ...fill(0)]);
  }
  const labels = input_ids.map((r, i) => r.map((id, t) => (attention_mask[i][t] === 0 ? IGNORE_INDEX : id)));
  return { input_ids, attention_mask, labels };
}

/** First index where `pattern` occurs in `row`, or -1. */
function indexOfSequence(row: number[], pattern: number[]): number {
  outer: for (let i = 0; i + pattern.length <= row.length; i++) {
    for (let k = 0; k < pattern.length; k++) if (row[i + k] !== pattern[k]) continue outer;
    return i;
  }
  return -1;
}

export interface CompletionOnlyCollatorOptions extends LanguageModelingCollatorOptions {
  /** The text (or its token ids) that starts the response, e.g. "### Output:". */
  responseTemplate: string | number[];
}

/**
 * TRL's DataCollatorForCompletionOnlyLM: the language-modelling collator, then labels -100 on
 * everything up to and including the response template, so only the response is learned. A row
 * without the template learns nothing (labels all -100) and a warning names it. When the template
 * tokenizes differently inside the text, pass the ids as they appear there.
 */
export function DataCollatorForCompletionOnlyLM(options: CompletionOnlyCollatorOptions): DataCollator {
  const base = DataCollatorForLanguageModeling(options);
  const template = typeof options.responseTemplate === 'string' ? options.tokenizer.encode(options.responseTemplate, { addSpecialTokens: false }) : options.responseTemplate;
  if (!Array.isArray(template) || template.length === 0) throw new ArgumentError(`DataCollatorForCompletionOnlyLM: \`response_template\` ${show(options.responseTemplate)} encodes to no tokens`);
  return (examples) => {
    const batch = base(examples);
    batch.labels.forEach((labels, r) => {
      const at = indexOfSequence(batch.input_ids[r], template);
      const end = at < 0 ? labels.length : at + template.length;
      if (at < 0) console.warn(`UserWarning: Could not find response key ${show(template)} in the example ${show(batch.input_ids[r].slice(0, 20))}…; it is ignored in the loss (labels all -100).`);
      for (let t = 0; t < end; t++) labels[t] = IGNORE_INDEX;
    });
    return batch;
  };
}
