/**
 * Static images of figures from a real headless browser: Debian's chromium driven by
 * playwright-core, plotly.js loaded once into one warm page, `Plotly.toImage` per figure.
 *
 * The browser starts on the first render and closes after an idle spell (2 s in plain Node, so
 * scripts end promptly; 5 min under a Jupyter kernel, so a notebook's figures render warm), on
 * `closeRenderer()`, and with the process (playwright kills the browsers it launched on exit).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BackendError } from '../errors';
import { currentSink } from '../display';
import { plotlyScriptPath } from './plotly_source';

export const CHROMIUM_PATH = process.env.QLORA_TS_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run', '--disable-dev-shm-usage'];

export interface ImageOptions {
  width?: number;
  height?: number;
  scale?: number;
}

interface PageLike {
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
  goto(url: string): Promise<unknown>;
}
interface BrowserLike {
  newPage(): Promise<PageLike>;
  close(): Promise<void>;
}

let browser: Promise<{ browser: BrowserLike; page: PageLike }> | undefined;
let idleTimer: NodeJS.Timeout | undefined;
let queue: Promise<unknown> = Promise.resolve();

async function start(): Promise<{ browser: BrowserLike; page: PageLike }> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new BackendError(`Cannot render figures to images: no chromium at ${CHROMIUM_PATH}.`,
      'Install Debian\'s chromium (apt-get install chromium) or set QLORA_TS_CHROMIUM to a Chrome/Chromium binary.');
  }
  const { chromium } = require('playwright-core') as { chromium: { launch(o: object): Promise<BrowserLike> } };
  const b = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
  const page = await b.newPage();
  const dir = mkdtempSync(join(tmpdir(), 'qlora-ts-render-'));
  const html = join(dir, 'render.html');
  writeFileSync(html, `<!doctype html><html><head><meta charset="utf-8"><script src="${pathToFileURL(plotlyScriptPath()).href}"></script></head><body></body></html>`);
  try {
    await page.goto(pathToFileURL(html).href);
  } finally {
    rmSync(dir, { recursive: true, force: true }); // the page has loaded it; nothing is left in the temp folder
  }
  return { browser: b, page };
}

function armIdleClose(): void {
  if (idleTimer) clearTimeout(idleTimer);
  const ms = currentSink() ? 300_000 : 2_000;
  idleTimer = setTimeout(() => void closeRenderer(), ms);
  idleTimer.unref();
}

/** Closes the warm browser now (a later render starts a new one). */
export async function closeRenderer(): Promise<void> {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = undefined;
  const current = browser;
  browser = undefined;
  if (current) await (await current).browser.close().catch(() => undefined);
}

/** Renders a plotly spec in the warm page; one render at a time. */
export function renderImage(spec: { data: unknown; layout: unknown }, format: 'png' | 'svg', options: ImageOptions = {}): Promise<Buffer> {
  const job = queue.then(async () => {
    if (idleTimer) clearTimeout(idleTimer);
    browser ??= start();
    let page: PageLike;
    try {
      page = (await browser).page;
    } catch (e) {
      browser = undefined;
      throw e;
    }
    const layout = spec.layout as { width?: number; height?: number };
    const arg = { spec, format, width: options.width ?? layout.width ?? 720, height: options.height ?? layout.height ?? 420, scale: options.scale ?? 1 };
    try {
      const url = await page.evaluate(async (a: typeof arg) => {
        const P = (globalThis as unknown as { Plotly: { toImage(f: unknown, o: unknown): Promise<string> } }).Plotly;
        return P.toImage(a.spec, { format: a.format, width: a.width, height: a.height, scale: a.scale });
      }, arg);
      return decodeDataUrl(url);
    } finally {
      armIdleClose();
    }
  });
  queue = job.catch(() => undefined);
  return job;
}

function decodeDataUrl(url: string): Buffer {
  const comma = url.indexOf(',');
  const head = url.slice(0, comma);
  const body = url.slice(comma + 1);
  return head.endsWith(';base64') ? Buffer.from(body, 'base64') : Buffer.from(decodeURIComponent(body), 'utf8');
}
