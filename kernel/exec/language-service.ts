/**
 * The TypeScript language service over a notebook: the file it checks is the declarations of the
 * cells that ran (declarations.ts) followed by the current cell, so type errors, completions and
 * hover know earlier cells, installed packages (resolved from the notebook's folder) and
 * @types/node. Positions are translated between that file and the cell.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import * as ts from 'typescript';
import { declarationSnippets, declaredNames } from './declarations.js';

/** Cells whose check results are kept while the declarations stay the same. */
const CHECKED_LIMIT = 64;

export interface CellDiagnostic { line: number; column: number; code: number; message: string }

/**
 * Diagnostics that are no reason to stop a cell: an untyped JavaScript package is just `any`
 * (7016), and `import x = require()` runs as a require call (1202).
 */
const IGNORED = new Set([7016, 1202]);

const GLOBALS = `
interface DisplayOptions { displayId?: string; update?: boolean; metadata?: Record<string, unknown> }
/** The id of an output shown with display(); update() replaces it in place. */
interface DisplayHandle { readonly displayId: string; update(value: unknown, metadata?: Record<string, unknown>): void }
/** Shows a value (its Jupyter.display bundle, or text) or a MIME bundle; returns a handle to update it. */
declare function display(value: unknown, options?: DisplayOptions): DisplayHandle;
declare function html(html: string, options?: DisplayOptions): DisplayHandle;
declare function markdown(markdown: string, options?: DisplayOptions): DisplayHandle;
declare function svg(svg: string, options?: DisplayOptions): DisplayHandle;
/** PNG bytes, or their base64 text. */
declare function png(data: Uint8Array | string, options?: DisplayOptions): DisplayHandle;
declare function json(value: unknown, options?: DisplayOptions): DisplayHandle;
declare function latex(latex: string, options?: DisplayOptions): DisplayHandle;
/** Clears the cell's output (when the next output arrives, with wait: true). */
declare function clearOutput(options?: { wait?: boolean }): void;
/** Asks the user for a line of text (an input_request to the front end). */
declare function input(prompt?: string): Promise<string>;
declare function password(prompt?: string): Promise<string>;
/** Aborted when the user interrupts the running cell. */
declare const kernelSignal: AbortSignal;
declare const Jupyter: {
  display: typeof display; html: typeof html; markdown: typeof markdown; svg: typeof svg; png: typeof png;
  json: typeof json; latex: typeof latex; clearOutput: typeof clearOutput; input: typeof input; password: typeof password;
  readonly signal: AbortSignal | undefined;
};
`;

const options: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  lib: ['lib.es2023.d.ts'],
  types: ['node'],
  // The kernel's own @types/node, so notebooks in any folder know Node's API.
  typeRoots: [dirname(dirname(require.resolve('@types/node/package.json')))],
  strict: true,
  esModuleInterop: true,
  allowSyntheticDefaultImports: true,
  resolveJsonModule: true,
  skipLibCheck: true,
  noEmit: true,
};

export class CellLanguageService {
  private readonly service: ts.LanguageService;
  private readonly cellFile: string;
  private readonly globalsFile: string;
  private readonly texts = new Map<string, { text: string; version: number }>();
  private readonly diskFiles = new Map<string, { version: string; snapshot: ts.IScriptSnapshot | undefined }>();
  /** name → declaration snippet, from the cells that ran. */
  private readonly history = new Map<string, string>();
  private historyVersion = 0;
  /** Check results of the cells checked since the declarations last changed (bounded). */
  private checked = new Map<string, CellDiagnostic[]>();
  private checkedVersion = -1;

  constructor(readonly cwd: string) {
    this.cellFile = join(cwd, '__cell__.ts');
    this.globalsFile = join(cwd, '__kernel_globals__.d.ts');
    this.setText(this.globalsFile, GLOBALS);
    this.setText(this.cellFile, 'export {};\n');
    const host: ts.LanguageServiceHost = {
      getScriptFileNames: () => [this.globalsFile, this.cellFile],
      getScriptVersion: (f) => {
        const own = this.texts.get(f);
        return own ? `v${own.version}` : this.disk(f).version;
      },
      getScriptSnapshot: (f) => {
        const own = this.texts.get(f);
        return own ? ts.ScriptSnapshot.fromString(own.text) : this.disk(f).snapshot;
      },
      getCurrentDirectory: () => cwd,
      getCompilationSettings: () => options,
      getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
      fileExists: (f) => this.texts.has(f) || ts.sys.fileExists(f),
      readFile: (f) => this.texts.get(f)?.text ?? ts.sys.readFile(f),
      readDirectory: ts.sys.readDirectory,
      directoryExists: ts.sys.directoryExists,
      getDirectories: ts.sys.getDirectories,
      realpath: ts.sys.realpath,
    };
    this.service = ts.createLanguageService(host, ts.createDocumentRegistry());
  }

  /**
   * A file on disk, read once per modification time (installed packages' declarations once per
   * session): the service then reuses their parsed and bound trees from one program to the next.
   */
  private disk(file: string): { version: string; snapshot: ts.IScriptSnapshot | undefined } {
    const cached = this.diskFiles.get(file);
    if (cached && file.includes(`${sep}node_modules${sep}`)) return cached;
    const stat = statSync(file, { throwIfNoEntry: false });
    const version = stat ? `m${stat.mtimeMs}` : 'missing';
    if (cached?.version === version) return cached;
    const entry = { version, snapshot: stat ? ts.ScriptSnapshot.fromString(readFileSync(file, 'utf8')) : undefined };
    this.diskFiles.set(file, entry);
    return entry;
  }

  private setText(file: string, text: string): void {
    const old = this.texts.get(file);
    if (old?.text === text) return;
    this.texts.set(file, { text, version: (old?.version ?? 0) + 1 });
  }

  /** Puts history + cell in the checked file; returns where the cell starts in it. */
  private load(code: string): { offset: number; sf: ts.SourceFile } {
    const own = new Set(declaredNames(ts.createSourceFile('cell.ts', code, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS)));
    const prefix = [...this.history].filter(([name]) => !own.has(name)).map(([, text]) => text).join('\n') + '\n';
    this.setText(this.cellFile, `${prefix}${code}\n\nexport {};\n`);
    const sf = this.service.getProgram()!.getSourceFile(this.cellFile)!;
    return { offset: prefix.length, sf };
  }

  /** Type and syntax errors located in the cell (`// @ts-nocheck` in the cell: none). */
  check(code: string): CellDiagnostic[] {
    if (/^\s*\/\/\s*@ts-nocheck\b/m.test(code)) return [];
    if (this.checkedVersion !== this.historyVersion) {
      this.checked.clear();
      this.checkedVersion = this.historyVersion;
    }
    const hit = this.checked.get(code);
    if (hit) return hit;
    const { offset, sf } = this.load(code);
    const all = [...this.service.getSyntacticDiagnostics(this.cellFile), ...this.service.getSemanticDiagnostics(this.cellFile)];
    const result: CellDiagnostic[] = [];
    for (const d of all) {
      if (d.category !== ts.DiagnosticCategory.Error || IGNORED.has(d.code) || d.start === undefined) continue;
      if (d.start < offset || d.start > offset + code.length) continue;
      const at = sf.getLineAndCharacterOfPosition(d.start);
      const base = sf.getLineAndCharacterOfPosition(offset);
      result.push({ line: at.line - base.line + 1, column: at.character + 1, code: d.code, message: ts.flattenDiagnosticMessageText(d.messageText, '\n') });
    }
    result.sort((a, b) => a.line - b.line || a.column - b.column);
    if (this.checked.size >= CHECKED_LIMIT) this.checked.delete(this.checked.keys().next().value as string);
    this.checked.set(code, result);
    return result;
  }

  /** Records the declarations of a cell that runs, for the cells after it. */
  commit(code: string): void {
    const { offset, sf } = this.load(code);
    const checker = this.service.getProgram()!.getTypeChecker();
    const snippets = declarationSnippets(sf, offset, offset + code.length, checker);
    let changed = false;
    for (const [name, text] of snippets) {
      if (this.history.get(name) === text) continue;
      this.history.delete(name);
      this.history.set(name, text);
      changed = true;
    }
    if (changed) this.historyVersion++;
  }

  complete(code: string, cursorPos: number): { matches: string[]; cursorStart: number; cursorEnd: number; metadata: Record<string, unknown> } {
    const word = /[\p{L}\p{N}_$]*$/u.exec(code.slice(0, cursorPos))![0];
    const cursorStart = cursorPos - word.length;
    const { offset } = this.load(code);
    const info = this.service.getCompletionsAtPosition(this.cellFile, offset + cursorPos, { includeCompletionsWithInsertText: true });
    const entries = (info?.entries ?? [])
      .filter((e) => e.name.startsWith(word) && !e.name.startsWith('__'))
      .sort((a, b) => a.sortText.localeCompare(b.sortText) || a.name.localeCompare(b.name));
    const matches = entries.map((e) => e.name);
    const types = entries.map((e) => ({ start: cursorStart, end: cursorPos, text: e.name, type: e.kind }));
    return { matches, cursorStart, cursorEnd: cursorPos, metadata: { _jupyter_types_experimental: types } };
  }

  inspect(code: string, cursorPos: number, detailLevel: number): { found: boolean; data: Record<string, unknown> } {
    const { offset } = this.load(code);
    const at = (pos: number) => this.service.getQuickInfoAtPosition(this.cellFile, offset + pos);
    const info = at(cursorPos) ?? (cursorPos > 0 ? at(cursorPos - 1) : undefined);
    if (!info) return { found: false, data: {} };
    const signature = ts.displayPartsToString(info.displayParts);
    const doc = ts.displayPartsToString(info.documentation);
    const tags = (info.tags ?? []).map((t) => `@${t.name} ${ts.displayPartsToString(t.text)}`.trim());
    const details = detailLevel > 0 ? tags : tags.slice(0, 3);
    const plain = [signature, doc, ...details].filter(Boolean).join('\n\n');
    const markdown = ['```typescript\n' + signature + '\n```', doc, ...details.map((t) => `*${t}*`)].filter(Boolean).join('\n\n');
    return { found: true, data: { 'text/plain': plain, 'text/markdown': markdown } };
  }
}
