import { ConfigError, show } from '../../errors';
import { fromByteLevel } from './bytes';

/** Turns tokens back into text (tokenizer.json `decoder`). */
export type Decoder = (tokens: string[]) => string;

/** Builds the decoder named by tokenizer.json's `decoder` field (null joins tokens with spaces, as `tokenizers`). */
export function buildDecoder(json: any, field = 'decoder'): Decoder {
  if (json == null) return (tokens) => tokens.join(' ');
  switch (json.type) {
    case 'ByteLevel':
      return fromByteLevel;
    case 'Sequence': {
      const steps = (json.decoders as any[] ?? []);
      if (steps.length === 1) return buildDecoder(steps[0], `${field}.decoders[0]`);
      throw new ConfigError(`tokenizer.json: \`${field}\` is a Sequence of ${steps.length} decoders; qlora-ts implements a single ByteLevel decoder`);
    }
    default:
      throw new ConfigError(`tokenizer.json: \`${field}.type\` is ${show(json.type)}, which qlora-ts does not implement`,
        'supported decoders: ByteLevel.');
  }
}
