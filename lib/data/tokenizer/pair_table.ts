/**
 * A hash table from a pair of small non-negative ints (token ids) to an int, in typed arrays with
 * linear probing. BPE looks up (left, right) → merge rank for every adjacent pair of every new
 * word; a Map keyed by `a * 2^21 + b` would box each key as a heap number, this does not.
 */
export class PairTable {
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly values: Int32Array;
  private readonly mask: number;
  size = 0;

  constructor(capacity: number) {
    let slots = 16;
    while (slots < capacity * 2) slots *= 2;
    this.left = new Int32Array(slots).fill(-1);
    this.right = new Int32Array(slots);
    this.values = new Int32Array(slots);
    this.mask = slots - 1;
  }

  private slot(a: number, b: number): number {
    return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b)) >>> 0 & this.mask;
  }

  /** The value for (a, b), or −1. */
  get(a: number, b: number): number {
    const { left, right, mask } = this;
    for (let i = this.slot(a, b); ; i = (i + 1) & mask) {
      const l = left[i];
      if (l === -1) return -1;
      if (l === a && right[i] === b) return this.values[i];
    }
  }

  /** Sets (a, b) → value unless (a, b) is already present (the first merge of a pair wins). */
  setIfAbsent(a: number, b: number, value: number): void {
    if (this.size * 2 >= this.mask) throw new Error('PairTable: capacity exceeded');
    const { left, right, mask } = this;
    for (let i = this.slot(a, b); ; i = (i + 1) & mask) {
      const l = left[i];
      if (l === -1) {
        left[i] = a; right[i] = b; this.values[i] = value; this.size++;
        return;
      }
      if (l === a && right[i] === b) return;
    }
  }
}
