import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError, show } from '../errors';
import { readJson, writeJsonAtomic } from '../model/config';
import { decodeRaw, loadRaw, saveSafetensors } from '../model/safetensors';
import type { Module } from '../nn/module';
import type { Optimizer, OptimizerState } from './optim';
import type { LRScheduler } from './schedule';
import { TrainerState } from './state';
import type { TrainingArguments } from './training_args';

/**
 * checkpoint-N/ as transformers writes it: the model's own files (adapter_config.json +
 * adapter_model.safetensors for a PEFT model, config.json + model.safetensors otherwise),
 * optimizer.safetensors (the optimizer's state tensors, `state.<i>.exp_avg` …, and its JSON in
 * the metadata; transformers pickles optimizer.pt instead), scheduler.json, rng_state.json,
 * trainer_state.json and training_args.json. Written into checkpoint-N.tmp, then renamed.
 */
export const PREFIX_CHECKPOINT_DIR = 'checkpoint';
export const OPTIMIZER_NAME = 'optimizer.safetensors';
export const SCHEDULER_NAME = 'scheduler.json';
export const RNG_STATE_NAME = 'rng_state.json';
export const TRAINER_STATE_NAME = 'trainer_state.json';
export const TRAINING_ARGS_NAME = 'training_args.json';

/** A model the Trainer can checkpoint: a module tree that saves itself. */
export type SaveableModel = Module & { savePretrained(dir: string, options?: { dtype?: 'F32' }): Promise<void> };

export interface CheckpointParts {
  model: SaveableModel;
  optimizer: Optimizer;
  scheduler: LRScheduler;
  state: TrainerState;
  args: TrainingArguments;
  rng: Record<string, unknown>;
}

export async function saveCheckpoint(dir: string, parts: CheckpointParts): Promise<void> {
  const tmp = `${dir}.tmp`;
  await fs.promises.rm(tmp, { recursive: true, force: true });
  await fs.promises.mkdir(tmp, { recursive: true });
  await parts.model.savePretrained(tmp, { dtype: 'F32' });
  const opt = await parts.optimizer.stateDict();
  await saveSafetensors(path.join(tmp, OPTIMIZER_NAME), opt.tensors, { format: 'qlora-ts', optimizer_state: JSON.stringify(opt.meta) });
  await writeJsonAtomic(path.join(tmp, SCHEDULER_NAME), parts.scheduler.stateDict());
  await writeJsonAtomic(path.join(tmp, RNG_STATE_NAME), parts.rng);
  await writeJsonAtomic(path.join(tmp, TRAINER_STATE_NAME), parts.state.toJSON());
  await writeJsonAtomic(path.join(tmp, TRAINING_ARGS_NAME), parts.args.toJSON());
  await fs.promises.rm(dir, { recursive: true, force: true });
  await fs.promises.rename(tmp, dir);
}

/** Checkpoint directories under outputDir, oldest (lowest step) first. */
export function listCheckpoints(outputDir: string): string[] {
  if (!fs.existsSync(outputDir)) return [];
  return fs.readdirSync(outputDir)
    .filter((n) => new RegExp(`^${PREFIX_CHECKPOINT_DIR}-\\d+$`).test(n) && fs.statSync(path.join(outputDir, n)).isDirectory())
    .sort((a, b) => Number(a.split('-')[1]) - Number(b.split('-')[1]))
    .map((n) => path.join(outputDir, n));
}

/** transformers' get_last_checkpoint. */
export function lastCheckpoint(outputDir: string): string | undefined {
  return listCheckpoints(outputDir).at(-1);
}

/** Deletes the oldest checkpoints beyond `limit` (save_total_limit). */
export async function rotateCheckpoints(outputDir: string, limit: number | null): Promise<void> {
  if (!limit) return;
  const all = listCheckpoints(outputDir);
  for (const dir of all.slice(0, Math.max(0, all.length - limit))) await fs.promises.rm(dir, { recursive: true, force: true });
}

/** A parameter's name as the model's saved files spell it (PEFT drops the adapter name `default`, as lib/lora/save.ts writes). */
function savedName(name: string): string {
  return name.replace(/\.(lora_[AB])\.default\./, '.$1.').replace(/\.base_layer\.bias$/, '.bias').replace(/(^|\.)modules_to_save\.default\./, '$1');
}

/** Puts the trainable weights saved in `dir` back into the model, by name. */
export function loadTrainableWeights(model: Module, dir: string): void {
  const file = ['adapter_model.safetensors', 'model.safetensors'].map((f) => path.join(dir, f)).find((f) => fs.existsSync(f));
  if (!file) throw new CheckpointError(`${dir}: no adapter_model.safetensors or model.safetensors`, 'pass a checkpoint-N directory that the Trainer wrote');
  const { tensors } = loadRaw(file);
  const byName = new Map([...tensors].map(([k, v]) => [savedName(k), v]));
  const done = new Set<tf.Variable>();
  for (const [name, p] of model.namedParameters()) {
    if (!p.trainable || done.has(p)) continue; // a tied weight is saved once
    done.add(p);
    const raw = byName.get(savedName(name)) ?? byName.get(savedName(name).replace(/^base_model\.model\./, ''));
    if (!raw) throw new CheckpointError(`${file}: no tensor for the trainable parameter '${name}'`, 'the checkpoint was written for another model or LoRA config');
    if (raw.shape.join(',') !== p.shape.join(',')) throw new CheckpointError(`${file}: tensor for '${name}' has shape ${show(raw.shape)}, the model's is ${show(p.shape)}`);
    const t = tf.tensor(decodeRaw(raw, `${file}: ${name}`) as Float32Array, raw.shape, 'float32');
    p.assign(t);
    t.dispose();
  }
}

export interface LoadedCheckpoint {
  optimizer: OptimizerState;
  scheduler: Record<string, unknown>;
  rng: Record<string, unknown>;
  state: TrainerState;
}

export async function readCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const optFile = path.join(dir, OPTIMIZER_NAME);
  if (!fs.existsSync(optFile)) throw new CheckpointError(`${dir}: no ${OPTIMIZER_NAME}`, 'pass a checkpoint-N directory that the Trainer wrote');
  const { tensors, metadata } = loadRaw(optFile);
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(metadata.optimizer_state ?? '');
  } catch {
    throw new CheckpointError(`${optFile}: metadata 'optimizer_state' is missing or not JSON`);
  }
  return {
    optimizer: { tensors, meta },
    scheduler: await readJson(path.join(dir, SCHEDULER_NAME), 'the scheduler state'),
    rng: await readJson(path.join(dir, RNG_STATE_NAME), 'the RNG state'),
    state: TrainerState.fromJSON(await readJson(path.join(dir, TRAINER_STATE_NAME), 'the trainer state')),
  };
}
