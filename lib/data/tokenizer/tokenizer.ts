import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { inspect } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { displaySymbol, type MimeBundle } from '../../display';
import { ArgumentError, ConfigError, show } from '../../errors';
import { AddedVocabulary, type AddedToken } from './added_tokens';
import { BpeModel } from './bpe';
import { toByteLevel } from './bytes';
import { pickChatTemplate, renderChatTemplate, type ChatMessage } from './chat_template';
import { buildDecoder, type Decoder } from './decoder';
import { buildNormalizer, type Normalizer } from './normalizer';
import { buildPostProcessor, type PostProcessor } from './post_processor';
import { checkSide, padRows, padTarget, type Padding, type PaddingSide } from './padding';
import { writeFileAtomic } from './files';
import { buildPreTokenizer, type PreTokenizer } from './pre_tokenizer';

export type { Padding, PaddingSide };

export interface TokenizerOptions {
  /** Where the files came from (shown in the repr; `AutoTokenizer.fromPretrained` sets it). */
  nameOrPath?: string;
  paddingSide?: PaddingSide;
  truncationSide?: PaddingSide;
  modelMaxLength?: number;
  padToken?: string | null;
  bosToken?: string | null;
  eosToken?: string | null;
  chatTemplate?: string;
}

export interface CallOptions {
  padding?: Padding;
  truncation?: boolean;
  maxLength?: number;
  padToMultipleOf?: number;
  paddingSide?: PaddingSide;
  addSpecialTokens?: boolean;
  returnTensors?: 'tf';
}

/** What calling the tokenizer returns: HF's BatchEncoding `input_ids` / `attention_mask`, camelCased. */
export interface BatchEncoding<T = number[][]> {
  inputIds: T;
  attentionMask: T;
}

/** Reads a special token from tokenizer_config.json: a string or an AddedToken dict `{content}`. */
function tokenContent(value: unknown): string | null {
  if (value == null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && typeof (value as any).content === 'string') return (value as any).content;
  return null;
}

const CLEANUPS: [string, string][] = [
  [' .', '.'], [' ?', '?'], [' !', '!'], [' ,', ','], [" ' ", "'"], [" n't", "n't"],
  [" 'm", "'m"], [" 's", "'s"], [" 've", "'ve"], [" 're", "'re"],
];

/** transformers' `clean_up_tokenization`: removes spaces before punctuation and contractions. */
export function cleanUpTokenization(text: string): string {
  for (const [from, to] of CLEANUPS) text = text.split(from).join(to);
  return text;
}

/**
 * A byte-level BPE tokenizer built from a tokenizer.json and tokenizer_config.json, with
 * transformers' `PreTrainedTokenizerFast` API in camelCase. Encoding runs: added tokens split out →
 * normalizer → pre-tokenizer → (byte-level spelling) → BPE per word, cached → post-processor.
 */
export class PreTrainedTokenizer {
  /** The parsed files, kept so `savePretrained` writes what was read plus settings changed since. */
  readonly tokenizerJson: any;
  readonly tokenizerConfig: Record<string, any>;
  readonly model: BpeModel;
  readonly addedVocabulary: AddedVocabulary;
  private readonly normalizer: Normalizer | null;
  private readonly preTokenizer: PreTokenizer;
  private readonly postProcessor: PostProcessor;
  private readonly decoder: Decoder;
  private readonly cache = new Map<string, number[]>();
  private static readonly CACHE_LIMIT = 200_000;

  readonly nameOrPath: string;
  paddingSide: PaddingSide;
  truncationSide: PaddingSide;
  modelMaxLength: number;
  chatTemplate: string | { name: string; template: string }[] | undefined;
  cleanUpTokenizationSpaces: boolean;
  private _bosToken: string | null = null;
  private _eosToken: string | null = null;
  private _padToken: string | null = null;
  private _unkToken: string | null = null;

  constructor(tokenizerJson: any, tokenizerConfig: Record<string, any> = {}, options: TokenizerOptions = {}) {
    if (tokenizerJson == null || typeof tokenizerJson !== 'object') throw new ConfigError('tokenizer.json: not a JSON object');
    this.tokenizerJson = tokenizerJson;
    this.tokenizerConfig = tokenizerConfig;
    this.model = BpeModel.fromJson(tokenizerJson.model);
    this.addedVocabulary = new AddedVocabulary((tokenizerJson.added_tokens ?? []) as AddedToken[]);
    this.normalizer = buildNormalizer(tokenizerJson.normalizer);
    this.preTokenizer = buildPreTokenizer(tokenizerJson.pre_tokenizer);
    this.postProcessor = buildPostProcessor(tokenizerJson.post_processor);
    this.decoder = buildDecoder(tokenizerJson.decoder);

    const cfg = tokenizerConfig;
    this.nameOrPath = options.nameOrPath ?? '';
    this.paddingSide = checkSide(options.paddingSide ?? cfg.padding_side ?? 'right', 'padding_side');
    this.truncationSide = checkSide(options.truncationSide ?? cfg.truncation_side ?? 'right', 'truncation_side');
    this.modelMaxLength = options.modelMaxLength ?? (typeof cfg.model_max_length === 'number' ? cfg.model_max_length : 1e30);
    this.chatTemplate = options.chatTemplate ?? cfg.chat_template;
    // transformers 5 ignores `clean_up_tokenization_spaces: true` for BPE tokenizers (it would strip
    // spaces before punctuation), unless the config insists with the flag below.
    this.cleanUpTokenizationSpaces = Boolean(cfg.clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output);
    this.bosToken = options.bosToken !== undefined ? options.bosToken : tokenContent(cfg.bos_token);
    this.eosToken = options.eosToken !== undefined ? options.eosToken : tokenContent(cfg.eos_token);
    this.padToken = options.padToken !== undefined ? options.padToken : tokenContent(cfg.pad_token);
    this.unkToken = tokenContent(cfg.unk_token);
  }

  // ---- special tokens -------------------------------------------------------------------------

  private checkToken(token: string | null, name: string): string | null {
    if (token !== null && this.tokenToId(token) === null) {
      throw new ArgumentError(`\`${name}\` ${show(token)} is not in the vocabulary`, 'use a token from `added_tokens` or the model vocab (e.g. `tokenizer.padToken = tokenizer.eosToken`).');
    }
    return token;
  }
  get bosToken(): string | null { return this._bosToken; }
  set bosToken(t: string | null) { this._bosToken = this.checkToken(t, 'bosToken'); }
  get eosToken(): string | null { return this._eosToken; }
  set eosToken(t: string | null) { this._eosToken = this.checkToken(t, 'eosToken'); }
  get padToken(): string | null { return this._padToken; }
  set padToken(t: string | null) { this._padToken = this.checkToken(t, 'padToken'); }
  get unkToken(): string | null { return this._unkToken; }
  set unkToken(t: string | null) { this._unkToken = this.checkToken(t, 'unkToken'); }
  get bosTokenId(): number | null { return this._bosToken === null ? null : this.tokenToId(this._bosToken); }
  get eosTokenId(): number | null { return this._eosToken === null ? null : this.tokenToId(this._eosToken); }
  get padTokenId(): number | null { return this._padToken === null ? null : this.tokenToId(this._padToken); }
  set padTokenId(id: number | null) { this.padToken = id === null ? null : this.idToToken(id); }
  get unkTokenId(): number | null { return this._unkToken === null ? null : this.tokenToId(this._unkToken); }

  /** The special tokens a chat template sees, as transformers' `special_tokens_map`. */
  get specialTokensMap(): Record<string, string> {
    const map: Record<string, string> = {};
    if (this._bosToken !== null) map.bos_token = this._bosToken;
    if (this._eosToken !== null) map.eos_token = this._eosToken;
    if (this._unkToken !== null) map.unk_token = this._unkToken;
    if (this._padToken !== null) map.pad_token = this._padToken;
    return map;
  }

  /** Ids of every special added token (what `skipSpecialTokens` drops). */
  get allSpecialIds(): number[] {
    return this.addedVocabulary.tokens.filter((t) => t.special).map((t) => t.id);
  }

  /** Size of the model vocabulary without added tokens (transformers' `vocab_size`; special tokens have ids ≥ this). */
  get vocabSize(): number {
    return this.model.size;
  }

  /** Size with added tokens (transformers' `len(tokenizer)`): the embedding size a model needs. */
  get length(): number {
    if (this.lengthCache === undefined) {
      let extra = 0;
      for (const t of this.addedVocabulary.tokens) if (this.model.idToToken[t.id] === undefined) extra++;
      this.lengthCache = this.model.size + extra;
    }
    return this.lengthCache;
  }
  private lengthCache: number | undefined;

  private tokenToId(token: string): number | null {
    return this.addedVocabulary.byContent.get(token)?.id ?? this.model.vocab.get(token) ?? null;
  }

  private idToToken(id: number): string | null {
    return this.addedVocabulary.byId.get(id)?.content ?? this.model.idToToken[id] ?? null;
  }

  convertTokensToIds(tokens: string): number | null;
  convertTokensToIds(tokens: string[]): (number | null)[];
  convertTokensToIds(tokens: string | string[]): number | null | (number | null)[] {
    const one = (t: string) => this.tokenToId(t) ?? this.unkTokenId;
    return typeof tokens === 'string' ? one(tokens) : tokens.map(one);
  }

  convertIdsToTokens(ids: number): string | null;
  convertIdsToTokens(ids: number[], options?: { skipSpecialTokens?: boolean }): string[];
  convertIdsToTokens(ids: number | number[], options: { skipSpecialTokens?: boolean } = {}): string | null | string[] {
    if (typeof ids === 'number') return this.idToToken(ids);
    const out: string[] = [];
    for (const id of ids) {
      if (options.skipSpecialTokens && this.addedVocabulary.isSpecial(id)) continue;
      const t = this.idToToken(id);
      if (t !== null) out.push(t);
    }
    return out;
  }

  // ---- encoding -------------------------------------------------------------------------------

  /** Ids of text without special tokens from the post-processor (added tokens in the text count). */
  private encodeText(text: string): number[] {
    if (typeof text !== 'string') throw new ArgumentError(`\`text\` must be a string, got ${show(typeof text)}`);
    const ids: number[] = [];
    for (const segment of this.addedVocabulary.split(text)) {
      if (typeof segment === 'number') { ids.push(segment); continue; }
      const normalized = this.normalizer ? this.normalizer(segment) : segment;
      const re = this.preTokenizer.isolatedRegex;
      if (re === null) {
        for (const piece of this.preTokenizer.split(normalized)) this.encodePiece(piece, ids);
        continue;
      }
      // Fast path (Llama 3, GPT-2): match piece after piece with a sticky regex (no match arrays,
      // no list of pieces); where nothing matches, the global regex finds the next match.
      const sticky = this.preTokenizer.isolatedSticky!;
      const text = normalized;
      let pos = 0;
      while (pos < text.length) {
        sticky.lastIndex = pos;
        if (sticky.test(text) && sticky.lastIndex > pos) {
          this.encodePiece(text.slice(pos, sticky.lastIndex), ids);
          pos = sticky.lastIndex;
          continue;
        }
        let next = text.length;
        re.lastIndex = pos;
        for (let m = re.exec(text); m !== null; m = re.exec(text)) {
          if (m[0].length > 0) { next = m.index; break; }
          re.lastIndex++;
        }
        this.encodePiece(text.slice(pos, next), ids); // the unmatched gap is a piece of its own
        pos = next;
      }
    }
    return ids;
  }

  /** Appends the ids of one pre-tokenized piece, through the word cache. */
  private encodePiece(piece: string, ids: number[]): void {
    let cached = this.cache.get(piece);
    if (cached === undefined) {
      cached = [];
      this.model.encodeWord(this.preTokenizer.byteLevel ? toByteLevel(piece) : piece, cached);
      if (this.cache.size >= PreTrainedTokenizer.CACHE_LIMIT) this.cache.clear();
      this.cache.set(piece, cached);
    }
    if (cached.length === 1) ids.push(cached[0]);
    else for (let i = 0; i < cached.length; i++) ids.push(cached[i]);
  }

  /** transformers' `encode`: ids of one text, with special tokens unless `addSpecialTokens: false`. */
  encode(text: string, options: { addSpecialTokens?: boolean; truncation?: boolean; maxLength?: number } = {}): number[] {
    const add = options.addSpecialTokens ?? true;
    let ids = this.encodeText(text);
    if (options.truncation || (options.maxLength !== undefined && options.truncation !== false)) {
      const max = options.maxLength ?? this.modelMaxLength;
      ids = this.truncate(ids, max - (add ? this.postProcessor.added : 0));
    }
    return add ? this.postProcessor.process(ids) : ids;
  }

  private truncate(ids: number[], keep: number): number[] {
    if (keep < 0) throw new ArgumentError(`\`maxLength\` is smaller than the ${this.postProcessor.added} special tokens the tokenizer adds`);
    if (ids.length <= keep) return ids;
    return this.truncationSide === 'right' ? ids.slice(0, keep) : ids.slice(ids.length - keep);
  }

  /** Byte-level tokens of a text, without special tokens (transformers' `tokenize`). */
  tokenize(text: string, options: { addSpecialTokens?: boolean } = {}): string[] {
    const ids = this.encode(text, { addSpecialTokens: options.addSpecialTokens ?? false });
    return ids.map((id) => this.idToToken(id)!);
  }

  /**
   * Calling the tokenizer (transformers' `tokenizer(texts, padding=..., truncation=...)`): one text
   * gives flat lists, a batch gives one list per text; `returnTensors: 'tf'` gives int32 (B, T) tensors.
   */
  call(text: string, options?: Omit<CallOptions, 'returnTensors'> & { returnTensors?: undefined }): BatchEncoding<number[]>;
  call(texts: string[], options?: Omit<CallOptions, 'returnTensors'> & { returnTensors?: undefined }): BatchEncoding<number[][]>;
  call(texts: string | string[], options: CallOptions & { returnTensors: 'tf' }): BatchEncoding<tf.Tensor2D>;
  call(texts: string | string[], options: CallOptions = {}): BatchEncoding<number[] | number[][] | tf.Tensor2D> {
    const single = typeof texts === 'string';
    const batch = single ? [texts] : texts;
    if (!Array.isArray(batch)) throw new ArgumentError(`\`text\` must be a string or a list of strings, got ${show(typeof texts)}`);
    const padding: Padding = options.padding ?? false;
    const side = checkSide(options.paddingSide ?? this.paddingSide, 'paddingSide');
    // As transformers: a `maxLength` without `truncation` truncates unless it is the padding length.
    const truncation = options.truncation ?? (options.maxLength !== undefined && (padding === false || padding === 'do_not_pad'));
    const rows = batch.map((t) => this.encode(t, {
      addSpecialTokens: options.addSpecialTokens ?? true,
      truncation,
      maxLength: options.maxLength,
    }));
    const target = padTarget(rows, padding, options.maxLength, this.modelMaxLength, options.padToMultipleOf);
    if (target >= 0 && this.padTokenId === null) {
      throw new ArgumentError('Asking to pad but the tokenizer does not have a padding token (`padToken` is null)',
        'set one, e.g. `tokenizer.padToken = tokenizer.eosToken`.');
    }
    const { inputIds: padded, attentionMask: masks } = padRows(rows, target, side, this.padTokenId ?? 0);
    if (options.returnTensors === 'tf') {
      const width = padded[0]?.length ?? 0;
      if (padded.some((r) => r.length !== width)) {
        throw new ArgumentError('`returnTensors: \'tf\'` needs rows of one length', "pass `padding: true` (or `truncation` with `maxLength`).");
      }
      // (B, T) int32
      return { inputIds: tf.tensor2d(padded, [padded.length, width], 'int32'), attentionMask: tf.tensor2d(masks, [padded.length, width], 'int32') };
    }
    return single ? { inputIds: padded[0], attentionMask: masks[0] } : { inputIds: padded, attentionMask: masks };
  }

  // ---- decoding -------------------------------------------------------------------------------

  /** transformers' `decode`: ids → text through the decoder; optionally drops special tokens. */
  decode(ids: ArrayLike<number> | tf.Tensor, options: { skipSpecialTokens?: boolean; cleanUpTokenizationSpaces?: boolean } = {}): string {
    const list: ArrayLike<number> = ids instanceof tf.Tensor ? (ids.dataSync() as unknown as ArrayLike<number>) : ids;
    const tokens: string[] = [];
    for (let i = 0; i < list.length; i++) {
      const id = list[i];
      if (options.skipSpecialTokens && this.addedVocabulary.isSpecial(id)) continue;
      const t = this.idToToken(id);
      if (t !== null) tokens.push(t);
    }
    const text = this.decoder(tokens);
    return (options.cleanUpTokenizationSpaces ?? this.cleanUpTokenizationSpaces) ? cleanUpTokenization(text) : text;
  }

  /** `decode` for each row of a batch (a list of id lists or a (B, T) tensor). */
  batchDecode(batch: ArrayLike<number>[] | tf.Tensor, options: { skipSpecialTokens?: boolean; cleanUpTokenizationSpaces?: boolean } = {}): string[] {
    const rows = batch instanceof tf.Tensor ? (batch.arraySync() as number[][]) : Array.from(batch);
    return rows.map((r) => this.decode(r, options));
  }

  // ---- saving --------------------------------------------------------------------------------

  /** The tokenizer_config.json to save: what was read, with the settings changed since. */
  toTokenizerConfig(): Record<string, any> {
    const cfg: Record<string, any> = { ...this.tokenizerConfig };
    cfg.bos_token = this._bosToken;
    cfg.eos_token = this._eosToken;
    cfg.pad_token = this._padToken;
    if (this._unkToken !== null || 'unk_token' in cfg) cfg.unk_token = this._unkToken;
    cfg.padding_side = this.paddingSide;
    cfg.truncation_side = this.truncationSide;
    cfg.model_max_length = this.modelMaxLength;
    cfg.clean_up_tokenization_spaces ??= false;
    if (this.chatTemplate !== undefined) cfg.chat_template = this.chatTemplate;
    cfg.tokenizer_class ??= 'PreTrainedTokenizerFast';
    return cfg;
  }

  /** Writes tokenizer.json, tokenizer_config.json and special_tokens_map.json into `dir` (atomically). */
  async savePretrained(dir: string): Promise<string[]> {
    const files: [string, string][] = [
      ['tokenizer.json', JSON.stringify(this.tokenizerJson, null, 2)],
      ['tokenizer_config.json', JSON.stringify(this.toTokenizerConfig(), null, 2)],
      ['special_tokens_map.json', JSON.stringify(this.specialTokensMap, null, 2)],
    ];
    await fs.mkdir(dir, { recursive: true });
    const written: string[] = [];
    for (const [name, text] of files) {
      const target = path.join(dir, name);
      await writeFileAtomic(target, text + '\n');
      written.push(target);
    }
    return written;
  }

  // ---- display -------------------------------------------------------------------------------

  /** transformers' repr: `PreTrainedTokenizerFast(name_or_path=..., vocab_size=..., ...)`. */
  toString(): string {
    const specials = Object.entries(this.specialTokensMap).map(([k, v]) => `${show(k)}: ${show(v)}`).join(', ');
    return `PreTrainedTokenizerFast(name_or_path=${show(this.nameOrPath)}, vocab_size=${this.vocabSize}, ` +
      `model_max_length=${this.modelMaxLength}, padding_side=${show(this.paddingSide)}, ` +
      `truncation_side=${show(this.truncationSide)}, special_tokens={${specials}}, added_tokens=${this.addedVocabulary.tokens.length})`;
  }

  [displaySymbol](): MimeBundle {
    return { 'text/plain': this.toString() };
  }

  /** console.log shows the repr, not the 9 MB of parsed JSON and the word cache. */
  [inspect.custom](): string {
    return this.toString();
  }

  // ---- chat -----------------------------------------------------------------------------------

  /** Renders `messages` with the chat template; ids (default) or the text with `tokenize: false`. */
  applyChatTemplate(messages: ChatMessage[], options: ChatOptions & { tokenize: false }): string;
  applyChatTemplate(messages: ChatMessage[], options: ChatOptions & { tokenize?: true; returnDict: true }): BatchEncoding<number[]>;
  applyChatTemplate(messages: ChatMessage[], options?: ChatOptions & { tokenize?: true; returnDict?: false }): number[];
  applyChatTemplate(messages: ChatMessage[], options: ChatOptions = {}): string | number[] | BatchEncoding<number[]> {
    const { addGenerationPrompt = false, tokenize = true, returnDict = false, chatTemplate, tools, documents, ...extra } = options;
    const template = chatTemplate ?? pickChatTemplate(this.chatTemplate);
    const text = renderChatTemplate(template, messages, {
      ...this.specialTokensMap,
      add_generation_prompt: addGenerationPrompt,
      tools,
      documents,
      ...extra,
    });
    if (!tokenize) return text;
    // The template writes the special tokens itself, so encoding adds none.
    const ids = this.encode(text, { addSpecialTokens: false });
    return returnDict ? { inputIds: ids, attentionMask: ids.map(() => 1) } : ids;
  }
}

export interface ChatOptions {
  addGenerationPrompt?: boolean;
  /** Ids (default) or, with false, the rendered text. */
  tokenize?: boolean;
  /** With `tokenize`, return `{ inputIds, attentionMask }` (transformers 5's default) instead of ids (transformers 4's). */
  returnDict?: boolean;
  chatTemplate?: string;
  tools?: unknown[];
  documents?: unknown[];
  [templateKwarg: string]: unknown;
}
