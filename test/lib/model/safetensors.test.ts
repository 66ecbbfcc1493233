import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from '../../../lib/backend';
import { CheckpointError } from '../../../lib/errors';
import { Checkpoint } from '../../../lib/model/checkpoint';
import { SafetensorsFile, decodeRaw, encodeRaw, loadRaw, loadTensors, saveSafetensors, saveTensors, type RawTensor, type SafetensorsDtype } from '../../../lib/model/safetensors';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-ts-st-'));

/** Writes a file with a hand-made header (for the error cases) and `dataBytes` bytes of data. */
function writeRaw(name: string, header: unknown, dataBytes: number, lengthOverride?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(json.length));
  const file = path.join(tmp, name);
  fs.writeFileSync(file, Buffer.concat([len, json, Buffer.alloc(dataBytes)]));
  return file;
}

function assertCheckpointError(fn: () => unknown, ...parts: Array<string | RegExp>): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `expected CheckpointError, got ${e}`);
    for (const p of parts) assert.match(e.message, typeof p === 'string' ? new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : p);
    return true;
  });
}

test('every dtype round-trips through a file with metadata; header padded to 8 bytes', async () => {
  const values: Record<SafetensorsDtype, number[]> = {
    F32: [1.5, -2.25, 3e-8, 65504], F64: [1 / 3, -1e300, 0, 2], BF16: [1, -2.5, 0.15625, 1.5 * 2 ** 127], F16: [1, -2.5, 2 ** -14, 65504],
    U8: [0, 1, 128, 255], I8: [-128, -1, 0, 127], I16: [-32768, -2, 3, 32767], I32: [-2147483648, -5, 6, 2147483647],
    I64: [-2147483648, -7, 8, 2147483647], BOOL: [1, 0, 0, 1],
  };
  const tensors = new Map<string, RawTensor>();
  for (const [dtype, v] of Object.entries(values) as Array<[SafetensorsDtype, number[]]>) tensors.set(`t.${dtype}`, { dtype, shape: [2, 2], data: encodeRaw(v, dtype) });
  const file = path.join(tmp, 'all.safetensors');
  await saveSafetensors(file, tensors, { format: 'pt', note: 'round trip' });
  const headerLen = Number(fs.readFileSync(file).readBigUInt64LE(0));
  assert.equal(headerLen % 8, 0);
  assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.includes('.tmp-')), [], 'no temporary file left behind');
  const f = SafetensorsFile.open(file);
  assert.deepEqual(f.metadata, { format: 'pt', note: 'round trip' });
  for (const [dtype, v] of Object.entries(values) as Array<[SafetensorsDtype, number[]]>) {
    const raw = f.readRaw(`t.${dtype}`);
    assert.equal(raw.dtype, dtype);
    assert.deepEqual(raw.shape, [2, 2]);
    assert.deepEqual(Buffer.from(raw.data), Buffer.from(tensors.get(`t.${dtype}`)!.data));
    const decoded = Array.from(decodeRaw(raw));
    const expect = dtype === 'F32' ? Array.from(new Float32Array(v)) : dtype === 'F64' ? Array.from(new Float32Array(v)) : v;
    assert.deepEqual(decoded, expect);
  }
  f.close();
});

test('BF16 rounds to nearest even; the tf.Tensor API gives float32 / int32 / bool tensors without leaks', async () => {
  await ensureBackend();
  const bits = new DataView(encodeRaw([1 + 2 ** -8, 1 + 3 * 2 ** -8], 'BF16').buffer);
  assert.equal(bits.getUint16(0, true), 0x3f80); // tie → even (down)
  assert.equal(bits.getUint16(2, true), 0x3f82); // tie → even (up)
  const before = tf.memory().numTensors;
  const file = path.join(tmp, 'tf.safetensors');
  const a = tf.tensor2d([[1, 2], [3, 4.5]]);
  const b = tf.tensor1d([7, -8], 'int32');
  await saveTensors(file, { a, b }, { dtype: 'BF16' });
  const loaded = loadTensors(file);
  assert.equal(loaded.a.dtype, 'float32');
  assert.deepEqual(await loaded.a.array(), [[1, 2], [3, 4.5]]);
  assert.equal(loaded.b.dtype, 'int32');
  assert.deepEqual(await loaded.b.array(), [7, -8]);
  assert.equal(loadRaw(file).tensors.get('a')!.dtype, 'BF16');
  tf.dispose([a, b, loaded.a, loaded.b]);
  assert.equal(tf.memory().numTensors, before);
});

test('reading streams: a 16 GiB (sparse) checkpoint opens and yields one tensor without being read whole', () => {
  const file = path.join(tmp, 'sparse16g.safetensors');
  const bigBytes = 16 * 2 ** 30;
  const header = Buffer.from(JSON.stringify({
    small: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    big: { dtype: 'BF16', shape: [2 ** 33], data_offsets: [8, 8 + bigBytes] },
  }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, len);
  fs.writeSync(fd, header);
  fs.writeSync(fd, new Uint8Array(new Float32Array([5, 6]).buffer));
  fs.ftruncateSync(fd, 8 + header.length + 8 + bigBytes); // a hole: no disk, and far beyond one Buffer
  fs.closeSync(fd);
  try {
    const rss = process.memoryUsage().rss;
    const f = SafetensorsFile.open(file);
    assert.deepEqual(f.info('big').shape, [2 ** 33]);
    assert.deepEqual(Array.from(decodeRaw(f.readRaw('small'))), [5, 6]);
    f.close();
    assert.ok(process.memoryUsage().rss - rss < 64 * 2 ** 20, 'memory did not grow by the checkpoint size');
  } finally {
    fs.rmSync(file);
  }
});

test('errors name the file and tensor: truncated, oversized or malformed header, offsets, dtype', () => {
  const ok = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  fs.writeFileSync(path.join(tmp, 'tiny.safetensors'), Buffer.alloc(5));
  assertCheckpointError(() => SafetensorsFile.open(path.join(tmp, 'tiny.safetensors')), 'tiny.safetensors', 'fewer than the 8-byte header length');
  assertCheckpointError(() => SafetensorsFile.open(writeRaw('huge.safetensors', ok, 8, 10n ** 12n)), 'huge.safetensors', 'exceeds');
  assertCheckpointError(() => SafetensorsFile.open(writeRaw('past.safetensors', ok, 8, 5000n)), 'past.safetensors', 'runs past the end');
  assertCheckpointError(() => SafetensorsFile.open(writeRaw('json.safetensors', '{"w": {', 8)), 'json.safetensors', 'not valid JSON');
  assertCheckpointError(() => SafetensorsFile.open(writeRaw('arr.safetensors', '[1, 2]', 8)), 'not a JSON object');
  assertCheckpointError(() => SafetensorsFile.open(writeRaw('trunc.safetensors', ok, 4)), 'trunc.safetensors', "tensor 'w'", 'truncated');
  assertCheckpointError(() => SafetensorsFile.open(writeRaw('dtype.safetensors', { w: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, 2)), 'dtype.safetensors', "tensor 'w'", 'F8_E4M3', 'cannot read');
  assertCheckpointError(() => SafetensorsFile.open(writeRaw('size.safetensors', { w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8)), "tensor 'w'", 'needs 12 bytes');
  assertCheckpointError(() => SafetensorsFile.open(writeRaw('off.safetensors', { w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, 8)), "tensor 'w'", 'malformed data_offsets');
  assertCheckpointError(() => SafetensorsFile.open(writeRaw('shape.safetensors', { w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, 8)), "tensor 'w'", 'malformed shape');
  assertCheckpointError(() => SafetensorsFile.open(writeRaw('overlap.safetensors', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12)), 'overlap.safetensors', "'a' and 'b'", 'overlapping');
  assertCheckpointError(() => SafetensorsFile.open(writeRaw('meta.safetensors', { __metadata__: { n: 1 }, ...ok }, 8)), '__metadata__');
  assertCheckpointError(() => SafetensorsFile.open(path.join(tmp, 'missing.safetensors')), 'cannot open', 'ENOENT');
  const f = SafetensorsFile.open(writeRaw('fine.safetensors', ok, 8));
  assertCheckpointError(() => f.readRaw('nope'), 'fine.safetensors', "has no tensor 'nope'");
  f.close();
  assertCheckpointError(() => decodeRaw({ dtype: 'I64', shape: [1], data: encodeRaw([2 ** 40], 'I64') }, 'x'), 'does not fit int32');
});

test('sharded checkpoints: the index maps names to shards; a missing shard or tensor is named', async () => {
  const dir = path.join(tmp, 'sharded');
  fs.mkdirSync(dir, { recursive: true });
  await saveSafetensors(path.join(dir, 'model-00001-of-00002.safetensors'), { a: { dtype: 'F32', shape: [1], data: encodeRaw([1], 'F32') } });
  await saveSafetensors(path.join(dir, 'model-00002-of-00002.safetensors'), { b: { dtype: 'I32', shape: [1], data: encodeRaw([2], 'I32') } });
  const index = { metadata: { total_size: 8 }, weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } };
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
  const ck = Checkpoint.open(dir);
  assert.deepEqual(ck.keys(), ['a', 'b']);
  assert.deepEqual(Array.from(decodeRaw(ck.readRaw('b'))), [2]);
  assertCheckpointError(() => ck.readRaw('c'), "no tensor 'c'");
  ck.close();
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...index.weight_map, c: 'model-00003-of-00003.safetensors' } }));
  assertCheckpointError(() => Checkpoint.open(dir), "tensor 'c'", 'model-00003-of-00003.safetensors', 'missing');
  assertCheckpointError(() => Checkpoint.open(path.join(tmp, 'empty-dir-that-is-missing')), 'neither model.safetensors nor model.safetensors.index.json');
});
