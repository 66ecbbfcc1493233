import * as tf from '@tensorflow/tfjs-core';
import { ArgumentError, show } from '../errors';

/** Rows of ids, a (B, T) int32 tensor or number[][]. */
export type IdRows = tf.Tensor2D | number[][];

/** The rows as plain numbers (read once on the host: masks and positions are built there). */
export function toRows(x: IdRows, name: string): number[][] {
  const rows = x instanceof tf.Tensor ? (x.arraySync() as number[][]) : x;
  if (!Array.isArray(rows) || rows.length === 0 || !Array.isArray(rows[0])) throw new ArgumentError(`\`${name}\` must be a non-empty (B, T) array or tensor`);
  const T = rows[0].length;
  if (rows.some((r) => r.length !== T)) throw new ArgumentError(`\`${name}\` rows differ in length (${show(rows.map((r) => r.length))}); pad them to one length`);
  return rows;
}
