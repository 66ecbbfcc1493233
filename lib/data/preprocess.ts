/**
 * The walkthrough's preprocessing: `getMaxLength(model)`, `preprocessDataset(tokenizer,
 * maxLength, seed, dataset)` (prompt → tokenize with truncation → drop rows not below maxLength →
 * shuffle), and token-length statistics per split for choosing a max length.
 */
import { ArgumentError, show } from '../errors';
import { Dataset } from './dataset';
import { DatasetDict } from './dataset_dict';
import { createPromptFormats } from './prompts';
import { percentile, summarize } from './stats';

/** What preprocessing needs of a tokenizer (PreTrainedTokenizer fits). */
export interface PreprocessTokenizer {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  call(texts: string[], options?: { truncation?: boolean; maxLength?: number }): { inputIds: number[][]; attentionMask: number[][] };
}

const LENGTH_FIELDS: Array<[string, string]> = [['n_positions', 'nPositions'], ['max_position_embeddings', 'maxPositionEmbeddings'], ['seq_length', 'seqLength']];

/**
 * The first of `n_positions`, `max_position_embeddings`, `seq_length` in the model's config (the
 * config.json fields, or their camelCase twins), else 1024 — printed as the article does,
 * typo included ("Found max lenth: N").
 */
export function getMaxLength(modelOrConfig: unknown): number {
  const m = modelOrConfig as { config?: unknown } | null;
  const config = (m && typeof m === 'object' && 'config' in m ? m.config : m) as Record<string, unknown> | null;
  const raw = config && typeof (config as { toJSON?: unknown }).toJSON === 'function' ? (config as { toJSON(): Record<string, unknown> }).toJSON() : config ?? {};
  for (const [snake, camel] of LENGTH_FIELDS) {
    const value = raw[snake] ?? (config ?? {})[camel];
    if (value) {
      console.log(`Found max lenth: ${value}`);
      return value as number;
    }
  }
  console.log('Using default max length: 1024');
  return 1024;
}

/**
 * As the walkthrough's preprocess_dataset: adds the training text (`createPromptFormats`),
 * tokenizes it in batches with truncation to `maxLength` (columns `input_ids`, `attention_mask`;
 * id, topic, dialogue, summary dropped, `text` kept), keeps rows shorter than `maxLength`, and
 * shuffles with `seed`.
 */
export function preprocessDataset(tokenizer: PreprocessTokenizer, maxLength: number, seed: number, dataset: Dataset): Dataset {
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new ArgumentError(`\`maxLength\` must be a positive integer, got ${show(maxLength)}`);
  console.log('Preprocessing dataset...');
  const withText = dataset.map((row) => createPromptFormats(row));
  const drop = ['id', 'topic', 'dialogue', 'summary'].filter((c) => withText.columnNames.includes(c));
  const tokenized = withText.map((batch: { text: string[] }) => {
    const enc = tokenizer.call(batch.text, { maxLength, truncation: true });
    return { input_ids: enc.inputIds, attention_mask: enc.attentionMask };
  }, { batched: true, removeColumns: drop });
  return tokenized.filter((row) => (row.input_ids as number[]).length < maxLength).shuffle({ seed });
}

/**
 * Token counts of one column per split (without special tokens), for histograms: `column` is a
 * text column, or 'text' for the walkthrough's training text built from dialogue and summary.
 */
export function tokenLengths(data: DatasetDict | Dataset, tokenizer: PreprocessTokenizer, column = 'text'): Record<string, number[]> {
  const splits: Array<[string, Dataset]> = data instanceof DatasetDict ? data.entries() : [['data', data]];
  return Object.fromEntries(splits.map(([split, ds]) => {
    const texts = column === 'text' && !ds.columnNames.includes('text')
      ? ds.toList().map((r) => createPromptFormats({ dialogue: r.dialogue, summary: r.summary }).text)
      : ds.column(column).map((v) => String(v ?? ''));
    return [split, texts.map((t) => tokenizer.encode(t, { addSpecialTokens: false }).length)];
  }));
}

export interface TokenLengthRow {
  split: string;
  column: string;
  rows: number;
  min: number;
  mean: number;
  median: number;
  p95: number;
  max: number;
  /** Rows at or above `maxLength` (when given): the ones preprocessDataset drops. */
  overMax: number | null;
}

/**
 * Token counts per split of each text column (`columns`, default dialogue and summary, plus the
 * walkthrough's training text), without special tokens. Returns a Dataset: it shows as a table.
 */
export function tokenLengthStats(data: DatasetDict | Dataset, tokenizer: PreprocessTokenizer, options: { columns?: string[]; maxLength?: number; withPrompt?: boolean } = {}): Dataset {
  const splits: Array<[string, Dataset]> = data instanceof DatasetDict ? data.entries() : [['data', data]];
  const out: TokenLengthRow[] = [];
  for (const [split, ds] of splits) {
    const columns = options.columns ?? ['dialogue', 'summary'].filter((c) => ds.columnNames.includes(c));
    const texts: Array<[string, string[]]> = columns.map((c) => [c, ds.column(c).map((v) => String(v ?? ''))]);
    if (options.withPrompt ?? (ds.columnNames.includes('dialogue') && ds.columnNames.includes('summary'))) {
      texts.push(['text (prompt)', ds.toList().map((r) => createPromptFormats({ dialogue: r.dialogue, summary: r.summary }).text)]);
    }
    for (const [column, values] of texts) {
      const lengths = values.map((t) => tokenizer.encode(t, { addSpecialTokens: false }).length);
      const s = summarize(lengths);
      out.push({
        split, column, rows: lengths.length, min: s.min, mean: Math.round(s.mean * 10) / 10, median: s.median,
        p95: Math.round(percentile(lengths, 95) * 10) / 10, max: s.max,
        overMax: options.maxLength === undefined ? null : lengths.filter((l) => l >= options.maxLength!).length,
      });
    }
  }
  return Dataset.fromList(out.map((r) => ({ ...r })));
}
