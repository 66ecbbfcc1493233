/**
 * What later cells need to know about a cell that ran: one declaration snippet per top-level
 * name, kept as TypeScript text. Types, interfaces, classes, enums, functions and namespaces keep
 * their source; imports keep one import line per binding; variables become
 * `declare const x: <type the checker inferred>;`. A cell that declares a name again replaces
 * its snippet, so re-running `const x = …` never reads as a redeclaration.
 */
import * as ts from 'typescript';
import { bindingNames } from './transform.js';

/** Top-level names a cell declares (values and types), e.g. to drop their older snippets. */
export function declaredNames(sf: ts.SourceFile): string[] {
  const names: string[] = [];
  for (const stmt of sf.statements) {
    if (ts.isVariableStatement(stmt)) stmt.declarationList.declarations.forEach((d) => bindingNames(d.name, names));
    else if (ts.isImportDeclaration(stmt)) {
      const clause = stmt.importClause;
      if (clause?.name) names.push(clause.name.text);
      const b = clause?.namedBindings;
      if (b && ts.isNamespaceImport(b)) names.push(b.name.text);
      else if (b) b.elements.forEach((el) => names.push(el.name.text));
    } else if (ts.isImportEqualsDeclaration(stmt)) names.push(stmt.name.text);
    else if ((ts.isFunctionDeclaration(stmt) || ts.isClassDeclaration(stmt) || ts.isInterfaceDeclaration(stmt) ||
      ts.isTypeAliasDeclaration(stmt) || ts.isEnumDeclaration(stmt)) && stmt.name) names.push(stmt.name.text);
    else if (ts.isModuleDeclaration(stmt) && ts.isIdentifier(stmt.name)) names.push(stmt.name.text);
  }
  return names;
}

function importSnippets(stmt: ts.ImportDeclaration, sf: ts.SourceFile, add: (name: string, text: string) => void): void {
  const from = stmt.moduleSpecifier.getText(sf);
  const clause = stmt.importClause;
  if (!clause) return;
  const type = clause.isTypeOnly ? 'type ' : '';
  if (clause.name) add(clause.name.text, `import ${type}${clause.name.text} from ${from};`);
  const b = clause.namedBindings;
  if (b && ts.isNamespaceImport(b)) add(b.name.text, `import ${type}* as ${b.name.text} from ${from};`);
  else if (b) for (const el of b.elements) add(el.name.text, `import ${type}{ ${el.getText(sf)} } from ${from};`);
}

/** Whether `text` parses as a type (the checker prints some types, like `(Anonymous class)`, that do not). */
function parsesAsType(text: string): boolean {
  const sf = ts.createSourceFile('type.ts', `type T = ${text};`, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  return (sf as unknown as { parseDiagnostics: ts.Diagnostic[] }).parseDiagnostics.length === 0 && sf.statements.length === 1;
}

/** A variable's type as annotation text; `any` where the checker's text would not parse. */
function typeText(checker: ts.TypeChecker, id: ts.Identifier, isConst: boolean): string {
  const type = checker.getTypeAtLocation(id);
  if (type.flags & ts.TypeFlags.UniqueESSymbol) return isConst ? 'unique symbol' : 'symbol';
  const text = checker.typeToString(type, id, ts.TypeFormatFlags.NoTruncation);
  return parsesAsType(text) ? text : 'any';
}

/** The `/** … *\/` comments right before a statement, so hover keeps showing them. */
function docComment(stmt: ts.Statement, sf: ts.SourceFile): string {
  const ranges = ts.getLeadingCommentRanges(sf.text, stmt.pos) ?? [];
  return ranges.map((r) => sf.text.slice(r.pos, r.end)).filter((t) => t.startsWith('/**')).map((t) => `${t}\n`).join('');
}

/**
 * Snippets for every top-level name of the cell that occupies [start, end) of the checked file;
 * `checker` gives variables their inferred types.
 */
export function declarationSnippets(sf: ts.SourceFile, start: number, end: number, checker: ts.TypeChecker): Map<string, string> {
  const out = new Map<string, string>();
  const add = (name: string, text: string) => out.set(name, out.has(name) ? `${out.get(name)}\n${text}` : text);
  for (const stmt of sf.statements) {
    if (stmt.getStart(sf) < start || stmt.getStart(sf) >= end) continue;
    const doc = docComment(stmt, sf);
    if (ts.isImportDeclaration(stmt)) importSnippets(stmt, sf, add);
    else if (ts.isVariableStatement(stmt)) {
      const kind = stmt.declarationList.flags & ts.NodeFlags.Const ? 'const' : 'let';
      for (const d of stmt.declarationList.declarations) {
        const ids: ts.Identifier[] = [];
        const collect = (n: ts.BindingName) => {
          if (ts.isIdentifier(n)) ids.push(n);
          else for (const el of n.elements) if (!ts.isOmittedExpression(el)) collect(el.name);
        };
        collect(d.name);
        for (const id of ids) {
          const text = typeText(checker, id, kind === 'const');
          add(id.text, `${doc}declare ${kind} ${id.text}: ${text};`);
        }
      }
    } else {
      const names = declaredNames({ statements: [stmt] } as unknown as ts.SourceFile);
      for (const name of names) add(name, doc + stmt.getText(sf));
    }
  }
  return out;
}
