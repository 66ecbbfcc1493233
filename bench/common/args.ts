/**
 * Command-line flags of the benchmarks: `--name value`, or a bare `--name` (read as 'true').
 */

/** The value after `--name`; 'true' when nothing (or another flag) follows; undefined when absent. */
export function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  return v === undefined || v.startsWith('--') ? 'true' : v;
}

/** `--name` as a number, `fallback` when absent; anything else is an error naming the flag. */
export function numberFlag(name: string, fallback: number): number {
  const v = flag(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${process.argv[1]}: --${name} must be a number, got '${v}'`);
  return n;
}
