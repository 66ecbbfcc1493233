/**
 * The kernel's logo, drawn in code: "TS" in white on the TypeScript blue, with a small orange
 * bar for the QLoRA library below, as an RGBA PNG (zlib from node, CRC-32 here).
 * `node dist/kernelspec/logo.js` rewrites kernelspec/logo-32x32.png and logo-64x64.png.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';

// 5×7 glyphs, one string per row.
const GLYPHS: Record<string, string[]> = {
  T: ['#####', '..#..', '..#..', '..#..', '..#..', '..#..', '..#..'],
  S: ['.####', '#....', '#....', '.###.', '....#', '....#', '####.'],
};

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** Encodes RGBA pixels (size × size × 4 bytes, row-major) as a PNG. */
export function encodePng(size: number, rgba: Uint8Array): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type RGBA
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0; // filter: none
    Buffer.from(rgba.buffer, rgba.byteOffset + y * size * 4, size * 4).copy(raw, y * (size * 4 + 1) + 1);
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** The logo at `size` px (32 or 64; any multiple of 16 works). */
export function logoPng(size: number): Buffer {
  const px = new Uint8Array(size * size * 4);
  const set = (x: number, y: number, [r, g, b, a]: number[]) => px.set([r, g, b, a], (y * size + x) * 4);
  const blue = [0x31, 0x78, 0xc6, 255], white = [255, 255, 255, 255], orange = [0xf5, 0x9e, 0x0b, 255];
  const radius = size / 8;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = Math.max(radius - x - 0.5, x + 0.5 - (size - radius), 0);
      const dy = Math.max(radius - y - 0.5, y + 0.5 - (size - radius), 0);
      set(x, y, Math.hypot(dx, dy) <= radius ? blue : [0, 0, 0, 0]);
    }
  }
  const scale = size / 16; // glyph cell: 5×7 at `scale` px per dot
  const top = Math.round(size * 0.22);
  [...'TS'].forEach((ch, i) => {
    const left = Math.round(size * 0.16) + i * 6 * scale;
    GLYPHS[ch].forEach((row, gy) => [...row].forEach((dot, gx) => {
      if (dot !== '#') return;
      for (let yy = 0; yy < scale; yy++) {
        for (let xx = 0; xx < scale; xx++) set(left + gx * scale + xx, top + gy * scale + yy, white);
      }
    }));
  });
  const barTop = top + 9 * scale;
  for (let y = barTop; y < barTop + 2 * scale; y++) {
    for (let x = Math.round(size * 0.16); x < Math.round(size * 0.16) + 11 * scale; x++) set(x, y, orange);
  }
  return encodePng(size, px);
}

if (require.main === module) {
  const dir = process.argv[2] ?? join(process.cwd(), 'kernelspec');
  for (const size of [32, 64]) writeFileSync(join(dir, `logo-${size}x${size}.png`), logoPng(size));
}
