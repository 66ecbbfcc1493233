#!/usr/bin/env node
/**
 * Installs the kernelspec so Jupyter lists and starts the kernel:
 *   node dist/kernelspec/install.js install [--user|--sys-prefix|--prefix P] [--name N] [--display-name D]
 *   node dist/kernelspec/install.js uninstall [--user|--sys-prefix|--prefix P] [--name N]
 * The default location is --user. Installing again replaces the earlier spec. kernel.json gets the
 * absolute paths of this node and of dist/kernel/main.js.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { jupyterDataDir } from '../kernel/history.js';
import { logoPng } from './logo.js';

export interface InstallOptions {
  action: 'install' | 'uninstall';
  where: { kind: 'user' } | { kind: 'sys-prefix' } | { kind: 'prefix'; path: string };
  name: string;
  displayName?: string;
}

const USAGE = 'usage: node dist/kernelspec/install.js install|uninstall [--user|--sys-prefix|--prefix P] [--name N] [--display-name D]';

export function parseArgs(argv: string[]): InstallOptions {
  const [action, ...rest] = argv;
  if (action !== 'install' && action !== 'uninstall') throw new Error(`unknown command ${JSON.stringify(action)}\n${USAGE}`);
  const opts: InstallOptions = { action, where: { kind: 'user' }, name: 'qlora-ts' };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    const value = () => {
      const v = rest[++i];
      if (v === undefined) throw new Error(`\`${a}\` needs a value\n${USAGE}`);
      return v;
    };
    if (a === '--user') opts.where = { kind: 'user' };
    else if (a === '--sys-prefix') opts.where = { kind: 'sys-prefix' };
    else if (a === '--prefix') opts.where = { kind: 'prefix', path: resolve(value()) };
    else if (a === '--name') opts.name = value();
    else if (a === '--display-name') opts.displayName = value();
    else throw new Error(`unknown option ${JSON.stringify(a)}\n${USAGE}`);
  }
  if (!/^[a-z0-9._-]+$/i.test(opts.name)) {
    throw new Error(`\`--name\` ${JSON.stringify(opts.name)} is not a valid kernel name. Hint: use letters, digits, '.', '_' or '-'.`);
  }
  return opts;
}

/** The `share/jupyter` prefix of the Python environment that runs Jupyter. */
function sysPrefix(): string {
  const env = process.env.VIRTUAL_ENV ?? process.env.CONDA_PREFIX;
  if (env) return env;
  for (const py of ['python3', '/usr/bin/python3']) {
    try {
      return execFileSync(py, ['-c', 'import sys; print(sys.prefix)'], { encoding: 'utf8' }).trim();
    } catch { /* try the next */ }
  }
  throw new Error('`--sys-prefix`: no python3 found to ask for sys.prefix. Hint: pass --prefix with the environment path.');
}

export function kernelDir(opts: InstallOptions): string {
  const w = opts.where;
  const base = w.kind === 'user' ? jupyterDataDir()
    : join(w.kind === 'prefix' ? w.path : sysPrefix(), 'share', 'jupyter');
  return join(base, 'kernels', opts.name);
}

/** The folder with package.json `qlora-ts` above this file (the repository or the installed package). */
function packageRoot(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'qlora-ts') return dir;
  }
  throw new Error(`cannot find the qlora-ts package above ${__dirname}`);
}

export function install(opts: InstallOptions): string {
  const dir = kernelDir(opts);
  if (opts.action === 'uninstall') {
    if (!existsSync(dir)) throw new Error(`no kernelspec at ${dir}. Hint: check --name and the location flag used at install.`);
    rmSync(dir, { recursive: true, force: true });
    return dir;
  }
  const spec = JSON.parse(readFileSync(join(packageRoot(), 'kernelspec', 'kernel.json'), 'utf8')) as Record<string, unknown>;
  spec.argv = [process.execPath, join(__dirname, '..', 'kernel', 'main.js'), '{connection_file}'];
  if (opts.displayName) spec.display_name = opts.displayName;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'kernel.json'), JSON.stringify(spec, null, 2) + '\n');
  for (const size of [32, 64]) writeFileSync(join(dir, `logo-${size}x${size}.png`), logoPng(size));
  return dir;
}

if (require.main === module) {
  try {
    const opts = parseArgs(process.argv.slice(2));
    const dir = install(opts);
    console.log(`${opts.action === 'install' ? 'Installed' : 'Removed'} kernelspec ${opts.name} in ${dir}`);
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
}
