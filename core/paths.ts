import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package root, found by walking up from this file. Source (under vitest) and built code
 * (under dist/) sit at different depths, and non-code assets such as the SQL migrations live
 * beside the sources, so both resolve them from here.
 */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'core'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the tally package root');
    dir = parent;
  }
}
