/**
 * Turns one TypeScript cell into a script that runs in the main realm and keeps its declarations.
 *
 * The cell is transpiled (types stripped, enums and parameter properties lowered, imports kept
 * verbatim) and the JavaScript's top-level statements are rewritten without adding or removing a
 * line, so the transpiler's source map still gives the cell's line for every generated line:
 *
 *   const x = 1, { a } = o;   →  ;(x = 1), ({ a } = o);          names hoisted as script `var`s
 *   class C {}                →  ;C = class C {};
 *   function f() {}           →  kept; `globalThis.f = f` runs first (functions stay hoisted)
 *   import d, { a } from 'm'  →  ;d = K.dflt(K.mod("m")), a = K.mod("m")["a"];
 *   export …                  →  the declaration without `export`
 *   last expression `e`       →  return (e);
 *
 * and the whole body goes into `(async () => { … })()`, so top-level `await` works and the
 * synchronous part still runs inside the vm script (SIGINT can break a `while (true) {}`).
 * Top-level names become properties of the global object: later cells see them, and re-running
 * `const x = …` simply assigns again.
 */
import * as ts from 'typescript';

/** The global through which generated code reaches the executor's module table. */
export const HELPER = '__qltsKernel';

export interface TransformedCell {
  /** The script to run; evaluates to the Promise of the cell's last value. */
  script: string;
  /** Source map (v3 JSON) from the transpiled JavaScript to the cell. */
  sourceMap: string;
  /** Characters the wrapper adds in front of generated line 1. */
  firstLineOffset: number;
  /** Module specifiers the cell imports, in order (preloaded before the script runs). */
  imports: string[];
  /** Top-level names the cell declares at run time. */
  names: string[];
  /** Whether the cell ends with an expression statement whose value is the result. */
  endsWithExpression: boolean;
  /** Whether the cell declares anything at top level (values or types) that later cells may use. */
  declares: boolean;
}

export interface Edit { start: number; end: number; text: string }

export class CellSyntaxError extends Error {
  constructor(message: string, readonly line: number, readonly column: number) {
    super(message);
    this.name = 'SyntaxError';
  }
}

const compilerOptions: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  verbatimModuleSyntax: true,
  sourceMap: true,
  useDefineForClassFields: true,
};

/** Statements that leave no code behind (so they do not decide which statement is last). */
export function isTypeOnly(stmt: ts.Statement): boolean {
  if (ts.isInterfaceDeclaration(stmt) || ts.isTypeAliasDeclaration(stmt)) return true;
  if (ts.canHaveModifiers(stmt) && ts.getModifiers(stmt)?.some((m) => m.kind === ts.SyntaxKind.DeclareKeyword)) return true;
  if (ts.isImportDeclaration(stmt) && stmt.importClause?.isTypeOnly) return true;
  if (ts.isExportDeclaration(stmt) && stmt.isTypeOnly) return true;
  if (ts.isEmptyStatement(stmt)) return true;
  return false;
}

/**
 * A cell that is one object literal (`{ a: 1 }`) would parse as a block; like Node's REPL, it is
 * read as an expression when it parses as one. Lines are unchanged.
 */
export function objectLiteralCell(code: string): string {
  const trimmed = code.trim();
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}')) return code;
  const wrapped = `(${code})`;
  const sf = ts.createSourceFile('cell.ts', wrapped, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const errors = (sf as unknown as { parseDiagnostics: ts.Diagnostic[] }).parseDiagnostics;
  const only = sf.statements.length === 1 ? sf.statements[0] : undefined;
  const isObject = only !== undefined && ts.isExpressionStatement(only) && ts.isParenthesizedExpression(only.expression) &&
    ts.isObjectLiteralExpression(only.expression.expression);
  return errors.length === 0 && isObject ? wrapped : code;
}

/** Every identifier a binding name introduces (`{ a, b: [c, ...d] }` → a, c, d). */
export function bindingNames(name: ts.BindingName, out: string[] = []): string[] {
  if (ts.isIdentifier(name)) out.push(name.text);
  else for (const el of name.elements) if (!ts.isOmittedExpression(el)) bindingNames(el.name, out);
  return out;
}

function newlines(text: string): string {
  return '\n'.repeat((text.match(/\n/g) ?? []).length);
}

export function applyEdits(text: string, edits: Edit[]): string {
  const sorted = [...edits].sort((a, b) => a.start - b.start || a.end - b.end);
  let out = '';
  let at = 0;
  for (const e of sorted) {
    out += text.slice(at, e.start) + e.text;
    at = Math.max(at, e.end);
  }
  return out + text.slice(at);
}

/** Transpiles and rewrites a cell; throws CellSyntaxError with the cell's line on a syntax error. */
export function transformCell(code: string, fileName: string): TransformedCell {
  const original = ts.createSourceFile(fileName, code, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const syntax = (original as unknown as { parseDiagnostics: ts.Diagnostic[] }).parseDiagnostics;
  if (syntax.length > 0) {
    const d = syntax[0];
    const { line, character } = original.getLineAndCharacterOfPosition(d.start ?? 0);
    throw new CellSyntaxError(ts.flattenDiagnosticMessageText(d.messageText, '\n'), line + 1, character + 1);
  }
  const valueStatements = original.statements.filter((s) => !isTypeOnly(s));
  const last = valueStatements[valueStatements.length - 1];
  const endsWithExpression = last !== undefined && ts.isExpressionStatement(last);
  const declares = original.statements.some((s) => ts.isVariableStatement(s) || ts.isImportDeclaration(s) ||
    ts.isImportEqualsDeclaration(s) || ts.isFunctionDeclaration(s) || ts.isClassDeclaration(s) || ts.isInterfaceDeclaration(s) ||
    ts.isTypeAliasDeclaration(s) || ts.isEnumDeclaration(s) || ts.isModuleDeclaration(s));

  // `import fs = require('fs')` (CommonJS-style TypeScript) runs as `const fs = require('fs')`.
  const requires: Edit[] = original.statements
    .filter((s): s is ts.ImportEqualsDeclaration => ts.isImportEqualsDeclaration(s) && !s.isTypeOnly &&
      ts.isExternalModuleReference(s.moduleReference))
    .map((s) => ({ start: s.getStart(original), end: s.name.getStart(original), text: 'const ' }));
  const source = requires.length > 0 ? applyEdits(code, requires) : code;
  const out = ts.transpileModule(source, { compilerOptions, fileName, reportDiagnostics: false });
  const js = out.outputText.replace(/\/\/# sourceMappingURL=.*\s*$/, '');
  const sf = ts.createSourceFile('cell.js', js, ts.ScriptTarget.ES2022, true, ts.ScriptKind.JS);

  const edits: Edit[] = [];
  const names = new Set<string>();
  const functions: string[] = [];
  const imports: string[] = [];
  const mod = (spec: string) => `${HELPER}.mod(${JSON.stringify(spec)})`;
  const stripExport = (stmt: ts.Statement, upTo: number) => {
    edits.push({ start: stmt.getStart(sf), end: upTo, text: ';' + newlines(js.slice(stmt.getStart(sf), upTo)) });
  };

  const statements = sf.statements;
  statements.forEach((stmt, i) => {
    const isLast = endsWithExpression && i === statements.length - 1;
    if (ts.isExpressionStatement(stmt) && ts.isStringLiteral(stmt.expression) && stmt.expression.text === 'use strict' && i === 0 && !isLast) {
      edits.push({ start: stmt.getStart(sf), end: stmt.end, text: '' });
    } else if (ts.isImportDeclaration(stmt)) {
      const spec = (stmt.moduleSpecifier as ts.StringLiteral).text;
      imports.push(spec);
      const parts: string[] = [];
      const clause = stmt.importClause;
      if (!clause) parts.push(mod(spec));
      if (clause?.name) {
        names.add(clause.name.text);
        parts.push(`${clause.name.text} = ${HELPER}.dflt(${mod(spec)})`);
      }
      const bindings = clause?.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) {
        names.add(bindings.name.text);
        parts.push(`${bindings.name.text} = ${mod(spec)}`);
      } else if (bindings) {
        for (const el of bindings.elements) {
          if (el.isTypeOnly) continue;
          const imported = (el.propertyName ?? el.name).text;
          names.add(el.name.text);
          parts.push(imported === 'default'
            ? `${el.name.text} = ${HELPER}.dflt(${mod(spec)})`
            : `${el.name.text} = ${mod(spec)}[${JSON.stringify(imported)}]`);
        }
      }
      const text = stmt.getText(sf);
      edits.push({ start: stmt.getStart(sf), end: stmt.end, text: `;${parts.join(', ')};${newlines(text)}` });
    } else if (ts.isVariableStatement(stmt)) {
      const list = stmt.declarationList;
      const isVar = (list.flags & ts.NodeFlags.BlockScoped) === 0;
      const first = list.declarations[0];
      stripExport(stmt, first.getStart(sf));
      for (const d of list.declarations) {
        bindingNames(d.name).forEach((n) => names.add(n));
        const init = d.initializer ? '' : isVar ? '' : ' = undefined';
        if (!d.initializer && isVar) {
          edits.push({ start: d.getStart(sf), end: d.end, text: 'void 0' });
          continue;
        }
        edits.push({ start: d.getStart(sf), end: d.getStart(sf), text: '(' });
        edits.push({ start: d.end, end: d.end, text: init + ')' });
      }
    } else if (ts.isFunctionDeclaration(stmt) && stmt.name) {
      names.add(stmt.name.text);
      functions.push(stmt.name.text);
      const fn = stmt.getChildren(sf).find((c) => c.kind === ts.SyntaxKind.FunctionKeyword || c.kind === ts.SyntaxKind.AsyncKeyword);
      const keyword = stmt.modifiers?.find((m) => m.kind === ts.SyntaxKind.AsyncKeyword) ?? fn;
      if (keyword && keyword.getStart(sf) > stmt.getStart(sf)) stripExport(stmt, keyword.getStart(sf));
    } else if (ts.isClassDeclaration(stmt) && stmt.name) {
      names.add(stmt.name.text);
      const keyword = stmt.getChildren(sf).find((c) => c.kind === ts.SyntaxKind.ClassKeyword)!;
      edits.push({ start: stmt.getStart(sf), end: keyword.getStart(sf), text: `;${stmt.name.text} = ` + newlines(js.slice(stmt.getStart(sf), keyword.getStart(sf))) });
      edits.push({ start: stmt.end, end: stmt.end, text: ';' });
    } else if (ts.isExportDeclaration(stmt)) {
      edits.push({ start: stmt.getStart(sf), end: stmt.end, text: ';' + newlines(stmt.getText(sf)) });
    } else if (ts.isExportAssignment(stmt)) {
      stripExport(stmt, stmt.expression.getStart(sf));
    }
    if (isLast && ts.isExpressionStatement(stmt)) {
      edits.push({ start: stmt.expression.getStart(sf), end: stmt.expression.getStart(sf), text: 'return (' });
      edits.push({ start: stmt.expression.end, end: stmt.expression.end, text: ')' });
    }
  });

  const body = applyEdits(js, edits);
  const hoisted = names.size > 0 ? `var ${[...names].join(', ')}; ` : '';
  const exportsFns = functions.map((f) => `globalThis[${JSON.stringify(f)}] = ${f}; `).join('');
  const prelude = `${hoisted}(async () => { "use strict"; ${exportsFns}`;
  return {
    script: `${prelude}${body}\n})()`,
    sourceMap: out.sourceMapText ?? '',
    firstLineOffset: prelude.length,
    imports,
    names: [...names],
    endsWithExpression,
    declares,
  };
}
