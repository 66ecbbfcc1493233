/**
 * Input history, kept across restarts: one JSON line per executed cell in
 * `<Jupyter data dir>/qlora-ts/history.jsonl`. Each kernel start takes the next session number.
 * Serves history_request's tail, range and search (glob, optionally unique) access types.
 */
import { existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export interface HistoryEntry { session: number; line: number; source: string; output?: string }
/** `[session, line, input]` or, with output, `[session, line, [input, output]]`. */
export type HistoryItem = [number, number, string | [string, string | null]];

/** `$JUPYTER_DATA_DIR`, else `$XDG_DATA_HOME/jupyter`, else `~/.local/share/jupyter` (Linux). */
export function jupyterDataDir(): string {
  if (process.env.JUPYTER_DATA_DIR) return process.env.JUPYTER_DATA_DIR;
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Jupyter');
  if (process.platform === 'win32') return join(process.env.APPDATA ?? homedir(), 'jupyter');
  return join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'jupyter');
}

export class HistoryStore {
  readonly session: number;
  private loaded: HistoryEntry[] | undefined;
  private fd: number | undefined;

  /**
   * Start-up only finds the last session number (a scan of the file, no JSON parsing); the
   * entries are parsed on the first history request.
   */
  constructor(private readonly file = join(jupyterDataDir(), 'qlora-ts', 'history.jsonl')) {
    let last = 0;
    if (existsSync(file)) {
      for (const m of readFileSync(file, 'utf8').matchAll(/^\{"session":(\d+),/gm)) last = Math.max(last, Number(m[1]));
    }
    this.session = last + 1;
    this.write({ session: this.session, line: 0, source: '' }); // reserves the session number
  }

  private get entries(): HistoryEntry[] {
    if (this.loaded) return this.loaded;
    this.loaded = [];
    if (existsSync(this.file)) {
      for (const line of readFileSync(this.file, 'utf8').split('\n')) {
        if (!line) continue;
        try {
          const e = JSON.parse(line) as HistoryEntry;
          if (e.line > 0) this.loaded.push(e);
        } catch { /* a torn line from a crash: skip it */ }
      }
    }
    return this.loaded;
  }

  append(line: number, source: string, output?: string): void {
    const e: HistoryEntry = { session: this.session, line, source, ...(output !== undefined && { output }) };
    this.loaded?.push(e);
    this.write(e);
  }

  tail(n: number, output: boolean): HistoryItem[] {
    return this.entries.slice(Math.max(0, this.entries.length - n)).map((e) => item(e, output));
  }

  /** `session` ≤ 0 counts back from the current one; lines in [start, stop), stop ≤ 0 = to the end. */
  range(session: number, start: number, stop: number, output: boolean): HistoryItem[] {
    const s = session <= 0 ? this.session + session : session;
    return this.entries
      .filter((e) => e.session === s && e.line >= start && (stop <= 0 || e.line < stop))
      .map((e) => item(e, output));
  }

  /** Glob search (`*`, `?`) over whole inputs; the last `n` hits, oldest first; `unique` keeps the newest of equal inputs. */
  search(pattern: string, n: number | undefined, unique: boolean, output: boolean): HistoryItem[] {
    const re = new RegExp('^' + pattern.split('').map((c) =>
      c === '*' ? '[\\s\\S]*' : c === '?' ? '[\\s\\S]' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')).join('') + '$');
    let hits = this.entries.filter((e) => re.test(e.source));
    if (unique) {
      const seen = new Set<string>();
      hits = hits.reverse().filter((e) => !seen.has(e.source) && !!seen.add(e.source)).reverse();
    }
    if (n !== undefined && n > 0) hits = hits.slice(Math.max(0, hits.length - n));
    return hits.map((e) => item(e, output));
  }

  /** Appends one line through a descriptor opened once (`session` first, which the scan above relies on). */
  private write(e: HistoryEntry): void {
    try {
      if (this.fd === undefined) {
        mkdirSync(dirname(this.file), { recursive: true });
        this.fd = openSync(this.file, 'a');
      }
      writeSync(this.fd, JSON.stringify(e) + '\n');
    } catch { /* a read-only data dir loses persistence, never the kernel */ }
  }
}

function item(e: HistoryEntry, output: boolean): HistoryItem {
  return output ? [e.session, e.line, [e.source, e.output ?? null]] : [e.session, e.line, e.source];
}
