/**
 * is_complete for a console: `complete` when the cell parses, `incomplete` (with the indent of
 * the next line) when the parser ran off the end — an open brace, bracket, string template or
 * binary operator — and `invalid` when the error lies before the end.
 */
import * as ts from 'typescript';

export interface IsCompleteReply { status: 'complete' | 'incomplete' | 'invalid' | 'unknown'; indent?: string }

/** How many brackets are still open at the end, counted with the scanner (strings and comments skipped). */
function openBrackets(code: string): number {
  const scanner = ts.createScanner(ts.ScriptTarget.ES2022, true, ts.LanguageVariant.Standard, code);
  let depth = 0;
  for (let t = scanner.scan(); t !== ts.SyntaxKind.EndOfFileToken; t = scanner.scan()) {
    if (t === ts.SyntaxKind.OpenBraceToken || t === ts.SyntaxKind.OpenParenToken || t === ts.SyntaxKind.OpenBracketToken) depth++;
    else if (t === ts.SyntaxKind.CloseBraceToken || t === ts.SyntaxKind.CloseParenToken || t === ts.SyntaxKind.CloseBracketToken) depth--;
  }
  return depth;
}

export function isComplete(code: string): IsCompleteReply {
  if (code.trim() === '') return { status: 'complete' };
  const sf = ts.createSourceFile('cell.ts', code, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const diagnostics = (sf as unknown as { parseDiagnostics: ts.Diagnostic[] }).parseDiagnostics;
  if (diagnostics.length === 0) return { status: 'complete' };
  const end = code.trimEnd().length;
  const atEnd = diagnostics.some((d) => (d.start ?? 0) >= end ||
    d.code === 1160 /* Unterminated template literal */ || d.code === 1010 /* '*\/' expected */);
  const unterminatedString = diagnostics.some((d) => d.code === 1002);
  if (!atEnd || unterminatedString) return { status: 'invalid' };
  const lastLine = code.slice(code.lastIndexOf('\n') + 1);
  const base = /^\s*/.exec(lastLine)![0];
  const depth = Math.max(0, openBrackets(code));
  const indent = depth > 0 ? '  '.repeat(depth) : /\)\s*$/.test(code) ? `${base}  ` : base;
  return { status: 'incomplete', indent };
}
