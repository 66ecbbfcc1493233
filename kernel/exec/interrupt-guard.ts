/**
 * How SIGINT breaks a cell's synchronous part. With the kernel's addon
 * (build/Release/qlora_interrupt.node, kernel/native/interrupt.cc) one watcher thread lives as
 * long as the process and a cell runs inside `guard.run(fn, since)`; without it (no C++ compiler
 * at install, another Node ABI, or QLORA_TS_INTERRUPT=breakOnSigint) each run goes through
 * Node's `breakOnSigint`, which starts and joins a watchdog thread per cell.
 *
 * Either way SIGINT also reaches `process.on('SIGINT')` listeners once the thread is free, which
 * is how a pending await is interrupted.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

interface Addon {
  /** Calls fn; a SIGINT while it runs, or one counted after `since`, throws 'Script execution interrupted.'. */
  run<T>(fn: () => T, since: number): T;
  /** SIGINTs received since the addon loaded. */
  count(): number;
}

export interface InterruptGuard {
  readonly kind: 'addon' | 'breakOnSigint';
  /** A mark taken when a cell begins: a SIGINT after it interrupts the cell even before `run`. */
  mark(): number;
  /** Runs a vm script's synchronous part so that SIGINT breaks it. */
  run<T>(fn: (breakOnSigint: boolean) => T, mark: number): T;
  /** Whether a SIGINT arrived after `mark` (undefined: cannot tell without the addon). */
  signalledSince(mark: number): boolean | undefined;
}

/** The addon's path: the package's build/Release, or QLORA_TS_INTERRUPT_ADDON. */
export function addonPath(): string {
  if (process.env.QLORA_TS_INTERRUPT_ADDON) return process.env.QLORA_TS_INTERRUPT_ADDON;
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'build', 'Release', 'qlora_interrupt.node');
}

function loadAddon(): Addon | undefined {
  if (process.env.QLORA_TS_INTERRUPT === 'breakOnSigint') return undefined;
  // Required here, not at the top: loading node:worker_threads is ~10 ms of kernel start-up.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (!(require('node:worker_threads') as typeof import('node:worker_threads')).isMainThread) return undefined;
  const file = addonPath();
  if (!existsSync(file)) return undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file) as Addon;
  } catch {
    return undefined; // built for another Node ABI: fall back to breakOnSigint
  }
}

const fallback: InterruptGuard = {
  kind: 'breakOnSigint',
  mark: () => 0,
  run: (fn) => fn(true),
  signalledSince: () => undefined,
};

let guard: InterruptGuard | undefined;

/**
 * The process's guard. The addon installs its SIGINT handler when loaded and hands every signal
 * on to the handler it found, so load it after the kernel's own `process.on('SIGINT')`.
 */
export function interruptGuard(): InterruptGuard {
  if (guard) return guard;
  const addon = loadAddon();
  guard = !addon ? fallback : {
    kind: 'addon',
    mark: () => addon.count(),
    run: (fn, mark) => addon.run(() => fn(false), mark),
    signalledSince: (mark) => addon.count() !== mark,
  };
  return guard;
}
