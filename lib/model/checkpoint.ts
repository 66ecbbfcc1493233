import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError } from '../errors';
import { SafetensorsFile, type RawTensor, type TensorInfo } from './safetensors';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

/**
 * A checkpoint directory as save_pretrained writes it: model.safetensors, or shards listed by
 * model.safetensors.index.json (`weight_map`: tensor name → shard file). Tensors are read one at
 * a time from their shard; shards are opened lazily and closed by close().
 */
export class Checkpoint {
  private readonly files = new Map<string, SafetensorsFile>();
  /** Tensor name → shard file name. */
  readonly weightMap = new Map<string, string>();

  private constructor(readonly dir: string) {}

  static open(dir: string): Checkpoint {
    const ckpt = new Checkpoint(dir);
    const index = path.join(dir, INDEX_FILE);
    if (fs.existsSync(index)) {
      let json: { weight_map?: Record<string, string> };
      try {
        json = JSON.parse(fs.readFileSync(index, 'utf8'));
      } catch (e) {
        throw new CheckpointError(`${index}: not valid JSON (${(e as Error).message})`);
      }
      if (!json.weight_map || typeof json.weight_map !== 'object') throw new CheckpointError(`${index}: no \`weight_map\` object`);
      for (const [name, file] of Object.entries(json.weight_map)) {
        if (!fs.existsSync(path.join(dir, file))) throw new CheckpointError(`${index}: tensor '${name}' maps to ${file}, which is missing in ${dir}`, 'copy every shard listed in the index');
        ckpt.weightMap.set(name, file);
      }
      return ckpt;
    }
    if (!fs.existsSync(path.join(dir, SINGLE_FILE))) {
      throw new CheckpointError(`${dir}: neither ${SINGLE_FILE} nor ${INDEX_FILE} found`, 'qlora-ts reads safetensors checkpoints (save_pretrained with safe_serialization=True, the default)');
    }
    const f = ckpt.file(SINGLE_FILE);
    for (const name of f.keys()) ckpt.weightMap.set(name, SINGLE_FILE);
    return ckpt;
  }

  private file(name: string): SafetensorsFile {
    let f = this.files.get(name);
    if (!f) {
      f = SafetensorsFile.open(path.join(this.dir, name));
      this.files.set(name, f);
    }
    return f;
  }

  keys(): string[] {
    return [...this.weightMap.keys()];
  }

  has(name: string): boolean {
    return this.weightMap.has(name);
  }

  info(name: string): TensorInfo {
    return this.file(this.shardOf(name)).info(name);
  }

  readRaw(name: string): RawTensor {
    return this.file(this.shardOf(name)).readRaw(name);
  }

  readTensor(name: string): tf.Tensor {
    return this.file(this.shardOf(name)).readTensor(name);
  }

  close(): void {
    for (const f of this.files.values()) f.close();
    this.files.clear();
  }

  private shardOf(name: string): string {
    const shard = this.weightMap.get(name);
    if (!shard) throw new CheckpointError(`${this.dir}: checkpoint has no tensor '${name}'`, 'the checkpoint does not match the config (wrong directory, or a different architecture)');
    return shard;
  }
}
