import { ConfigError, show } from '../../errors';

/** Adds special tokens around an encoded sequence (tokenizer.json `post_processor`). */
export interface PostProcessor {
  /** ids of one sequence → ids with special tokens (only called when `addSpecialTokens`). */
  process(ids: number[]): number[];
  /** How many ids `process` adds to one sequence (used to truncate before adding them). */
  readonly added: number;
}

const identity: PostProcessor = { process: (ids) => ids, added: 0 };

/** `TemplateProcessing`: the `single` template, e.g. `[<|begin_of_text|>, $A]`. */
function template(json: any, field: string): PostProcessor {
  const before: number[] = [];
  const after: number[] = [];
  let seenA = false;
  (json.single as any[] ?? []).forEach((piece, i) => {
    if (piece.Sequence) {
      if (piece.Sequence.id !== 'A') throw new ConfigError(`tokenizer.json: \`${field}.single[${i}]\` refers to sequence ${show(piece.Sequence.id)}; a single template can only use $A`);
      seenA = true;
    } else if (piece.SpecialToken) {
      const name = piece.SpecialToken.id;
      const ids = json.special_tokens?.[name]?.ids;
      if (!Array.isArray(ids)) throw new ConfigError(`tokenizer.json: \`${field}.special_tokens\` has no entry ${show(name)} used by \`${field}.single[${i}]\``);
      (seenA ? after : before).push(...ids);
    } else {
      throw new ConfigError(`tokenizer.json: \`${field}.single[${i}]\` is ${show(JSON.stringify(piece))}; expected {"SpecialToken": ...} or {"Sequence": ...}`);
    }
  });
  return {
    process: (ids) => (before.length + after.length === 0 ? ids : [...before, ...ids, ...after]),
    added: before.length + after.length,
  };
}

/** Builds the post-processor named by tokenizer.json's `post_processor` field. */
export function buildPostProcessor(json: any, field = 'post_processor'): PostProcessor {
  if (json == null) return identity;
  switch (json.type) {
    case 'ByteLevel':
      return identity; // only adjusts offsets
    case 'TemplateProcessing':
      return template(json, field);
    case 'Sequence': {
      const steps = (json.processors as any[] ?? []).map((p, i) => buildPostProcessor(p, `${field}.processors[${i}]`));
      return {
        process: (ids) => steps.reduce((acc, s) => s.process(acc), ids),
        added: steps.reduce((n, s) => n + s.added, 0),
      };
    }
    default:
      throw new ConfigError(`tokenizer.json: \`${field}.type\` is ${show(json.type)}, which qlora-ts does not implement`,
        'supported post-processors: ByteLevel, TemplateProcessing, Sequence.');
  }
}
