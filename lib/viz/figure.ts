/**
 * A plotly figure that renders in any Jupyter frontend and in exported HTML, offline.
 *
 * Its display bundle holds `application/vnd.plotly.v1+json` (JupyterLab's plotly renderer) and
 * `text/html` for everything else (classic notebook, VS Code, nbconvert HTML). No CDN is
 * reachable, so the first figure shown in a process carries plotly.js inline (≈ 4.8 MB, once);
 * later figures draw with `window.Plotly`, and if it is not there (outputs still loading, or
 * the carrying output was cleared) they wait 2 s, then load the copy the carrier left in the
 * browser's IndexedDB (loader.ts), then say how to get it back. `image/png` comes on request (`display({ png: true })`), rendered by headless chromium.
 *
 * "Once per process" is a guess at "once per notebook": if the cell whose output carried
 * plotly.js is re-run or cleared, the saved notebook no longer holds the library. It still draws
 * in a browser that has shown a carrier before (the IndexedDB copy); for a notebook you share,
 * call `resetPlotlyInline()` (or pass `plotlyJs: 'inline'`) before the next figure you keep.
 */
import { writeFileSync } from 'node:fs';
import { displaySymbol, publish, type MimeBundle } from '../display';
import { escapeHtml } from '../html';
import { applyTemplate, roundNumbers } from './theme';
import { markPlotlyInlined, plotlyInlined, plotlySource, plotlyVersion } from './plotly_source';
import { renderImage, type ImageOptions } from './render';
import { carrierScript, drawScript, scriptJson } from './loader';

export type Trace = Record<string, unknown>;
export type Layout = Record<string, unknown>;

export interface FigureSpec {
  data: Trace[];
  layout?: Layout;
  config?: Record<string, unknown>;
}

export interface HtmlOptions {
  /** 'inline': carry plotly.js; 'window': rely on window.Plotly; 'auto' (default): inline once per process. */
  plotlyJs?: 'inline' | 'window' | 'auto';
}

export interface DisplayOptions extends ImageOptions, HtmlOptions {
  /** Add an `image/png` rendering (headless chromium). */
  png?: boolean;
  displayId?: string;
  update?: boolean;
}

const DEFAULT_CONFIG = { responsive: true, displaylogo: false };
const usedIds = new Map<string, number>();

/** FNV-1a of a string, as 8 hex digits: a stable element id for the same figure. */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

export class Figure {
  data: Trace[];
  layout: Layout;
  config: Record<string, unknown>;

  constructor(spec: FigureSpec) {
    this.data = spec.data;
    this.layout = spec.layout ?? {};
    this.config = spec.config ?? {};
  }

  /** The plotly JSON (template applied, numbers rounded to 6 significant digits): deterministic. */
  toJSON(): { data: Trace[]; layout: Layout } {
    return roundNumbers({ data: this.data, layout: applyTemplate(this.layout) });
  }

  get title(): string {
    const t = this.layout.title;
    return typeof t === 'string' ? t : typeof t === 'object' && t !== null ? String((t as { text?: unknown }).text ?? '') : '';
  }

  /** An HTML fragment that draws the figure (see the file comment for how plotly.js gets there). */
  toHtml(options: HtmlOptions = {}): string {
    const spec = { ...this.toJSON(), config: { ...DEFAULT_CONFIG, ...this.config } };
    const json = scriptJson(spec);
    const base = `qlora-ts-fig-${hash(json)}`;
    const seen = usedIds.get(base) ?? 0;
    usedIds.set(base, seen + 1);
    const id = seen === 0 ? base : `${base}-${seen}`;
    const mode = options.plotlyJs ?? 'auto';
    const inline = mode === 'inline' || (mode === 'auto' && !plotlyInlined());
    if (inline && mode === 'auto') markPlotlyInlined();
    const height = Number((spec.layout as Layout).height ?? 420);
    const lib = inline ? `<script type="text/javascript">/* plotly.js ${plotlyVersion()} */\n${plotlySource()}</script>\n${carrierScript(plotlyVersion())}` : '';
    const box = `height:${height}px;width:100%;max-width:${Number((spec.layout as Layout).width ?? 720)}px;`;
    return `${lib}<div id="${id}" class="qlora-ts-figure" style="${box}"></div>\n${drawScript(id, json, plotlyVersion())}`;
  }

  /** A whole standalone HTML page (plotly.js inline): for reports. */
  toHtmlPage(path?: string): string {
    const page = `<!doctype html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(this.title || 'figure')}</title></head>\n<body>\n${this.toHtml({ plotlyJs: 'inline' })}\n</body></html>\n`;
    if (path) writeFileSync(path, page);
    return page;
  }

  textSummary(): string {
    const names = this.data.map((t) => t.name).filter((n) => typeof n === 'string');
    return `<Figure${this.title ? ` "${this.title}"` : ''}: ${this.data.length} trace${this.data.length === 1 ? '' : 's'}${names.length ? ` (${names.join(', ')})` : ''}>`;
  }

  [displaySymbol](): MimeBundle {
    return this.bundle();
  }

  bundle(options: HtmlOptions = {}): MimeBundle {
    const spec = this.toJSON();
    return {
      'application/vnd.plotly.v1+json': { data: spec.data, layout: spec.layout, config: { ...DEFAULT_CONFIG, ...this.config } },
      'text/html': this.toHtml(options),
      'text/plain': this.textSummary(),
    };
  }

  /** Shows the figure now (in a notebook: display_data; in plain Node: its one-line summary). */
  show(options: HtmlOptions & { displayId?: string; update?: boolean } = {}): void {
    publish(this.bundle(options), { displayId: options.displayId, update: options.update });
  }

  /** Shows the figure with an `image/png` too (static viewers, GitHub, PDFs). */
  async display(options: DisplayOptions = {}): Promise<void> {
    const bundle = this.bundle(options);
    if (options.png) bundle['image/png'] = (await this.toPng(undefined, options)).toString('base64');
    publish(bundle, { displayId: options.displayId, update: options.update });
  }

  /** PNG bytes (written to `path` when given), rendered by headless chromium. */
  async toPng(path?: string, options: ImageOptions = {}): Promise<Buffer> {
    const png = await renderImage(this.toJSON(), 'png', options);
    if (path) writeFileSync(path, png);
    return png;
  }

  /** SVG text (written to `path` when given), rendered by headless chromium. */
  async toSvg(path?: string, options: ImageOptions = {}): Promise<string> {
    const svg = (await renderImage(this.toJSON(), 'svg', options)).toString('utf8');
    if (path) writeFileSync(path, svg);
    return svg;
  }
}
