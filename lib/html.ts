/**
 * HTML for notebook output: escaping, and the one table renderer that datasets, comparisons and
 * reports share — an index column, long text cut at a word (the whole text in the cell's `title`
 * tooltip), arrays shown by their head and length, numbers right-aligned and rounded, and an
 * optional footer with the row and column counts.
 */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

export interface HtmlTableOptions {
  /** Rows shown by views that cut a long table (`Dataset.toHtml`); default 10. */
  maxRows?: number;
  /** Characters shown of a text cell before the ellipsis; 0 = no limit. Default 120. */
  maxChars?: number;
  /** Digits after the point for non-integer numbers. Default 4. */
  digits?: number;
  /** Show the 0-based row index. Default true. */
  index?: boolean;
  /** Caption above the table (escaped). */
  caption?: string;
  /** Rows in the whole table: when given, a footer says "showing n of total rows × columns". */
  total?: number;
}

/** A cell's full text: strings as they are, arrays as `[1, 2, 3]`, objects as JSON. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return `[${Array.from(value as ArrayLike<unknown>, (v) => cellText(v)).join(', ')}]`;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** A cell's shown text: arrays keep their first items and say their length; text is cut at a word. */
export function shortText(value: unknown, maxChars: number): string {
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    const xs = Array.from(value as ArrayLike<unknown>);
    if (xs.length <= 8) return cellText(xs);
    return `[${xs.slice(0, 6).map(cellText).join(', ')}, …] (${xs.length})`;
  }
  const text = cellText(value);
  if (maxChars <= 0 || text.length <= maxChars) return text;
  const cut = text.slice(0, maxChars);
  const space = cut.lastIndexOf(' ');
  return `${(space > maxChars * 0.6 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/** One small style block per table, scoped by class; cells keep newlines (dialogue turns). */
const STYLE = '<style>.qlora-table{border-collapse:collapse;font-size:12px}.qlora-table th,.qlora-table td{padding:2px 8px;border-bottom:1px solid #ddd;'
  + 'vertical-align:top;text-align:left;white-space:pre-wrap;max-width:40em}.qlora-table tbody th{color:#888}.qlora-table td.num{text-align:right}</style>';

function cell(value: unknown, maxChars: number, digits: number): string {
  if (typeof value === 'number') return `<td class="num">${Number.isInteger(value) ? value : value.toFixed(digits)}</td>`;
  const full = cellText(value);
  const shown = shortText(value, maxChars);
  const title = shown === full ? '' : ` title="${escapeHtml(full)}"`;
  return `<td${title}>${escapeHtml(shown)}</td>`;
}

/** Columns in order, rows as arrays of cell values. */
export function htmlTable(columns: string[], rows: unknown[][], options: HtmlTableOptions = {}): string {
  const maxChars = options.maxChars ?? 120;
  const digits = options.digits ?? 4;
  const index = options.index ?? true;
  const head = (index ? '<th></th>' : '') + columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = rows.map((row, i) =>
    `<tr>${index ? `<th>${i}</th>` : ''}${row.map((v) => cell(v, maxChars, digits)).join('')}</tr>`).join('\n');
  const caption = options.caption ? `<caption style="text-align:left;font-weight:bold">${escapeHtml(options.caption)}</caption>` : '';
  const table = `<table class="qlora-table">${caption}\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
  if (options.total === undefined) return `<div>\n${STYLE}\n${table}\n</div>`;
  const more = options.total > rows.length ? `showing ${rows.length} of ` : '';
  const footer = `<p style="font-size:11px;color:#666">${more}${options.total} rows × ${columns.length} columns</p>`;
  return `<div>\n${STYLE}\n${table}\n${footer}\n</div>`;
}
