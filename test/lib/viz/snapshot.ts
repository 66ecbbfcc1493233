/**
 * Snapshot files for figure and table tests, observablehq/plot style: the expected output lives
 * in test/snapshots/viz/<name>; a missing snapshot is written (review and commit it), a
 * different output is written next to it as <name>-changed.<ext> and the test fails.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../../lib/package_root';

export const repoRoot = packageRoot;

export const SNAPSHOTS = join(repoRoot(), 'test', 'snapshots', 'viz');

export function matchSnapshot(name: string, actual: string): void {
  mkdirSync(SNAPSHOTS, { recursive: true });
  const file = join(SNAPSHOTS, name);
  const dot = name.lastIndexOf('.');
  const changed = join(SNAPSHOTS, `${name.slice(0, dot)}-changed${name.slice(dot)}`);
  if (!existsSync(file)) {
    writeFileSync(file, actual);
    return;
  }
  const expected = readFileSync(file, 'utf8');
  if (expected === actual) {
    rmSync(changed, { force: true });
    return;
  }
  writeFileSync(changed, actual);
  assert.fail(`${name} differs from its snapshot; see ${changed}`);
}
