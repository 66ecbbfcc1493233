import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The package's root folder (the nearest one above the compiled code with a package.json), where
 * `models/`, `data/`, `notebooks/` and the test fixtures live — the same from `dist/` as from any
 * other output folder.
 */
export function packageRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`qlora-ts: package.json not found above ${__dirname}`);
    dir = up;
  }
  return dir;
}
