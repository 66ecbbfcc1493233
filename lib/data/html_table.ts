/**
 * The notebook view of a table of rows: a `text/html` table with long text cut to a readable
 * length (an ellipsis, the whole text in the cell's `title` tooltip), arrays shown by their head
 * and length, and a footer with the row and column counts.
 */
export interface HtmlTableOptions {
  /** Rows shown; the footer says how many there are in all. Default 10. */
  maxRows?: number;
  /** Characters shown of a text cell before the ellipsis. Default 120. */
  maxChars?: number;
  /** Caption above the table (escaped). */
  caption?: string;
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
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
  if (text.length <= maxChars) return text;
  const cut = text.slice(0, maxChars);
  const space = cut.lastIndexOf(' ');
  return `${(space > maxChars * 0.6 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/** One small style block per table, scoped by class; cells keep newlines (dialogue turns). */
const STYLE = '<style>.qlora-table{border-collapse:collapse;font-size:12px}.qlora-table th,.qlora-table td{padding:2px 8px;border-bottom:1px solid #ddd;'
  + 'vertical-align:top;text-align:left;white-space:pre-wrap;max-width:40em}.qlora-table tbody th{color:#888}</style>';

export function htmlTable(columns: string[], rows: Array<Record<string, unknown>>, total: number, options: HtmlTableOptions = {}): string {
  const maxChars = options.maxChars ?? 120;
  const head = columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = rows.map((row, i) => {
    const cells = columns.map((c) => {
      const full = cellText(row[c]);
      const shown = shortText(row[c], maxChars);
      const title = shown === full ? '' : ` title="${escapeHtml(full)}"`;
      return `<td${title}>${escapeHtml(shown)}</td>`;
    });
    return `<tr><th>${i}</th>${cells.join('')}</tr>`;
  }).join('\n');
  const caption = options.caption ? `<caption style="text-align:left;font-weight:bold">${escapeHtml(options.caption)}</caption>` : '';
  const more = total > rows.length ? `showing ${rows.length} of ` : '';
  const footer = `<p style="font-size:11px;color:#666">${more}${total} rows × ${columns.length} columns</p>`;
  return `<div>\n${STYLE}\n<table class="qlora-table">${caption}\n<thead><tr><th></th>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>\n${footer}\n</div>`;
}
