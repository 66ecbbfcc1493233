/**
 * How cells load packages: `import` and `require` resolve from the notebook's folder, so a
 * notebook sees that folder's node_modules and, inside this repository, the package's own name
 * (`qlora-ts`, through package.json "exports"). CommonJS packages load with require; ES-only ones
 * through a dynamic import made from a script whose file name lies in that folder.
 */
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { join } from 'node:path';
import * as vm from 'node:vm';
import * as ts from 'typescript';

/**
 * Node 20 calls the main-context loader for vm scripts experimental and says so on stderr the
 * first time a cell imports dynamically; that notice is not the cell's output.
 */
function quietLoaderWarning(): void {
  const emit = process.emitWarning;
  if ((emit as { quiet?: boolean }).quiet) return;
  const quiet = function (this: unknown, warning: string | Error, ...rest: unknown[]) {
    const text = typeof warning === 'string' ? warning : warning?.message;
    if (typeof text === 'string' && text.includes('USE_MAIN_CONTEXT_DEFAULT_LOADER')) return;
    return (emit as (...a: unknown[]) => void).call(this, warning, ...rest);
  };
  Object.assign(quiet, { quiet: true });
  process.emitWarning = quiet as typeof process.emitWarning;
}

/**
 * Lets `import { f } from './helpers'` load a TypeScript file next to the notebook: `.ts` files
 * required from cells are transpiled to CommonJS on load (types are checked in the cell).
 */
function requireTypeScriptFiles(): void {
  const extensions = (Module as unknown as { _extensions: Record<string, (m: { _compile(code: string, file: string): void }, file: string) => void> })._extensions;
  if (extensions['.ts']) return;
  extensions['.ts'] = (mod, file) => {
    const out = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, esModuleInterop: true, inlineSourceMap: true },
    });
    mod._compile(out.outputText, file);
  };
}

export class ModuleTable {
  readonly require: NodeRequire;
  private readonly loaded = new Map<string, unknown>();
  private readonly importFrom: (spec: string) => Promise<unknown>;

  constructor(readonly cwd: string) {
    quietLoaderWarning();
    requireTypeScriptFiles();
    this.require = createRequire(join(cwd, '[notebook]'));
    const script = new vm.Script('(spec) => import(spec)', {
      filename: join(cwd, '[notebook].js'),
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    });
    this.importFrom = script.runInThisContext() as (spec: string) => Promise<unknown>;
  }

  /** Loads every specifier before the cell runs (like ES module linking), so a typo fails early. */
  async preload(specs: string[]): Promise<void> {
    for (const spec of specs) {
      if (this.loaded.has(spec)) continue;
      this.loaded.set(spec, await this.load(spec));
    }
  }

  private async load(spec: string): Promise<unknown> {
    try {
      return this.require(spec);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code !== 'ERR_REQUIRE_ESM' && code !== 'ERR_REQUIRE_ASYNC_MODULE' && code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw e;
      return this.importFrom(spec);
    }
  }

  /** The module object for a preloaded specifier (what `import * as ns` binds). */
  mod(spec: string): unknown {
    if (!this.loaded.has(spec)) this.loaded.set(spec, this.require(spec));
    return this.loaded.get(spec);
  }

  /** What a default import binds: `.default` of ES modules and transpiled ones, else the module. */
  dflt(mod: unknown): unknown {
    const m = mod as { __esModule?: boolean; default?: unknown } | null;
    if (m && (m.__esModule || Object.prototype.toString.call(m) === '[object Module]')) return m.default;
    return mod;
  }
}
