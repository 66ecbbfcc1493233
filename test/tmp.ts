/**
 * Temporary folders for tests, removed when the test file's process exits (pass or fail), so a
 * test run leaves nothing behind in the system's temporary directory.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const made: string[] = [];

process.once('exit', () => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

/** A new empty folder `<tmpdir>/qlora-ts-<prefix>-XXXXXX`. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `qlora-ts-${prefix}-`));
  made.push(dir);
  return dir;
}
