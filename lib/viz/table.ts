/** Plain-text tables for consoles (HTML tables: ../html.ts). */

/** A plain-text table (fixed-width columns), for consoles. */
export function textTable(columns: string[], rows: unknown[][], options: { maxChars?: number; digits?: number } = {}): string {
  const max = options.maxChars ?? 40;
  const fmt = (v: unknown): string => {
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(options.digits ?? 4);
    const t = String(v ?? '').replace(/\s+/g, ' ');
    return t.length > max ? t.slice(0, max - 1) + '…' : t;
  };
  const cells = [columns, ...rows.map((r) => r.map(fmt))];
  const widths = columns.map((_, j) => Math.max(...cells.map((r) => String(r[j]).length)));
  const idxWidth = String(rows.length).length;
  return cells.map((r, i) => (i === 0 ? ' '.repeat(idxWidth) : String(i - 1).padStart(idxWidth)) + '  ' +
    r.map((c, j) => String(c).padEnd(widths[j])).join('  ').trimEnd()).join('\n');
}
