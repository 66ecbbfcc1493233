import { ArgumentError, show } from '../../errors';

export type PaddingSide = 'left' | 'right';
export type Padding = boolean | 'longest' | 'max_length' | 'do_not_pad';

export function checkSide(side: unknown, name: string): PaddingSide {
  if (side !== 'left' && side !== 'right') throw new ArgumentError(`\`${name}\` must be 'left' or 'right', got ${show(side)}`);
  return side;
}

/** The length rows are padded to, or −1 for no padding (transformers' padding strategies). */
export function padTarget(rows: number[][], padding: Padding, maxLength: number | undefined, modelMaxLength: number, multipleOf?: number): number {
  let target: number;
  if (padding === false || padding === 'do_not_pad') return -1;
  if (padding === true || padding === 'longest') target = Math.max(0, ...rows.map((r) => r.length));
  else if (padding === 'max_length') {
    target = maxLength ?? modelMaxLength;
    if (target > 1e7) throw new ArgumentError(`\`padding: 'max_length'\` needs \`maxLength\`: the model max length is ${show(modelMaxLength)}`);
  } else throw new ArgumentError(`\`padding\` must be true, false, 'longest', 'max_length' or 'do_not_pad', got ${show(padding)}`);
  if (multipleOf) target = Math.ceil(target / multipleOf) * multipleOf;
  return target;
}

/** Pads every row to `target` with `padId` on `side`; the mask is 1 on tokens and 0 on padding. */
export function padRows(rows: number[][], target: number, side: PaddingSide, padId: number): { inputIds: number[][]; attentionMask: number[][] } {
  const inputIds: number[][] = [];
  const attentionMask: number[][] = [];
  for (const row of rows) {
    const n = Math.max(0, target - row.length);
    const fill = new Array<number>(n).fill(padId);
    const ones = new Array<number>(row.length).fill(1);
    const zeros = new Array<number>(n).fill(0);
    if (side === 'left') { inputIds.push([...fill, ...row]); attentionMask.push([...zeros, ...ones]); } else { inputIds.push([...row, ...fill]); attentionMask.push([...ones, ...zeros]); }
  }
  return { inputIds, attentionMask };
}
