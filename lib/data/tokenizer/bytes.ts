/**
 * GPT-2's byte-level alphabet: every byte 0..255 maps to one printable Unicode character, so a
 * byte string becomes a plain string that a vocabulary can key on (space → 'Ġ', '\n' → 'Ċ').
 * Same table as `tokenizers`' `bytes_char()` and transformers' `bytes_to_unicode()`.
 */
function buildByteTable(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table = new Array<string>(256);
  for (const b of printable) table[b] = String.fromCharCode(b);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) table[b] = String.fromCharCode(256 + next++);
  }
  return table;
}

/** byte → its character in the byte-level alphabet. */
export const BYTE_TO_CHAR: readonly string[] = buildByteTable();

/** char code of a byte-level character → byte (−1 when the character is not in the alphabet). */
export const CHAR_TO_BYTE: Int16Array = (() => {
  const out = new Int16Array(512).fill(-1);
  BYTE_TO_CHAR.forEach((c, b) => { out[c.charCodeAt(0)] = b; });
  return out;
})();

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

const ASCII_REMAP = /[\x00-\x20\x7f]/g;
const remapChar = (c: string) => BYTE_TO_CHAR[c.charCodeAt(0)];

/** Text → its UTF-8 bytes spelled in the byte-level alphabet ("héllo" → "hÃ©llo"). */
export function toByteLevel(text: string): string {
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) { ascii = false; break; }
  }
  // ASCII maps to itself except controls, space and DEL.
  if (ascii) return text.replace(ASCII_REMAP, remapChar);
  let out = '';
  const bytes = encoder.encode(text);
  for (let i = 0; i < bytes.length; i++) out += BYTE_TO_CHAR[bytes[i]];
  return out;
}

/**
 * Byte-level tokens → text, as `tokenizers`' ByteLevel decoder: each token's characters map back
 * to bytes (a token with a character outside the alphabet contributes its own UTF-8 bytes), and
 * the joined bytes decode as UTF-8 with U+FFFD for invalid sequences.
 */
export function fromByteLevel(tokens: readonly string[]): string {
  const bytes: number[] = [];
  for (const token of tokens) {
    const start = bytes.length;
    let inAlphabet = true;
    for (let i = 0; i < token.length; i++) {
      const code = token.charCodeAt(i);
      const b = code < 512 ? CHAR_TO_BYTE[code] : -1;
      if (b < 0) { inAlphabet = false; break; }
      bytes.push(b);
    }
    if (!inAlphabet) {
      bytes.length = start;
      for (const b of encoder.encode(token)) bytes.push(b);
    }
  }
  return decoder.decode(Uint8Array.from(bytes));
}
