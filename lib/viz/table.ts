/**
 * HTML tables for notebook output, styled like pandas' DataFrame view: an index column, header
 * row, long text shortened (the full text stays in the cell's title tooltip), numbers rounded.
 */

export interface HtmlTableOptions {
  /** Characters shown per text cell before "…" (default 300; 0 = no limit). */
  maxChars?: number;
  /** Digits after the point for numbers (default 4). */
  digits?: number;
  /** Show the 0-based row index (default true). */
  index?: boolean;
  caption?: string;
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function cell(value: unknown, options: HtmlTableOptions): string {
  if (typeof value === 'number') {
    const text = Number.isInteger(value) ? String(value) : value.toFixed(options.digits ?? 4);
    return `<td style="text-align:right;">${text}</td>`;
  }
  const text = value === null || value === undefined ? '' : String(value);
  const max = options.maxChars ?? 300;
  const short = max > 0 && text.length > max ? text.slice(0, max).trimEnd() + '…' : text;
  const title = short === text ? '' : ` title="${escapeHtml(text)}"`;
  return `<td style="text-align:left;white-space:pre-wrap;vertical-align:top;"${title}>${escapeHtml(short)}</td>`;
}

/** Columns in order, rows as arrays of cell values. */
export function htmlTable(columns: string[], rows: unknown[][], options: HtmlTableOptions = {}): string {
  const index = options.index ?? true;
  const head = (index ? '<th></th>' : '') + columns.map((c) => `<th style="text-align:left;">${escapeHtml(c)}</th>`).join('');
  const body = rows.map((row, i) =>
    `<tr>${index ? `<th style="text-align:right;vertical-align:top;">${i}</th>` : ''}${row.map((v) => cell(v, options)).join('')}</tr>`).join('\n');
  const caption = options.caption ? `<caption style="text-align:left;font-weight:600;">${escapeHtml(options.caption)}</caption>` : '';
  return `<table class="qlora-ts-table dataframe" style="border-collapse:collapse;font-size:12px;">${caption}\n` +
    `<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody></table>`;
}

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
