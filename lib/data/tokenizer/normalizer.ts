import { ConfigError, show } from '../../errors';

/** A tokenizer.json `normalizer`: text → text before pre-tokenization (null for Llama 3). */
export type Normalizer = (text: string) => string;

/** Builds the normalizer named by tokenizer.json's `normalizer` field. */
export function buildNormalizer(json: any, field = 'normalizer'): Normalizer | null {
  if (json == null) return null;
  switch (json.type) {
    case 'NFC': case 'NFD': case 'NFKC': case 'NFKD': {
      const form = json.type as string;
      return (text) => text.normalize(form);
    }
    case 'Lowercase':
      return (text) => text.toLowerCase();
    case 'Prepend': {
      const prefix = String(json.prepend);
      return (text) => (text.length > 0 ? prefix + text : text);
    }
    case 'Replace': {
      if (typeof json.pattern?.String !== 'string') {
        throw new ConfigError(`tokenizer.json: \`${field}.pattern\` must be {"String": ...} for a Replace normalizer, got ${show(JSON.stringify(json.pattern))}`);
      }
      const from = json.pattern.String as string;
      const to = String(json.content);
      return (text) => text.split(from).join(to);
    }
    case 'Sequence': {
      const steps = (json.normalizers as any[] ?? []).map((n, i) => buildNormalizer(n, `${field}.normalizers[${i}]`)!);
      return (text) => steps.reduce((t, step) => step(t), text);
    }
    default:
      throw new ConfigError(`tokenizer.json: \`${field}.type\` is ${show(json.type)}, which qlora-ts does not implement`,
        'supported normalizers: NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace (String), Sequence.');
  }
}
