import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../../core/paths.js';

/**
 * Creating a PGlite database runs initdb in WASM (~5 s); opening a copy of an initialised one
 * takes ~0.5 s. The template is made once per PGlite version and copied for every fresh
 * embedded Postgres a test asks for (see stores.ts).
 */
export function pgliteTemplateDir(): string {
  const pkg = path.join(packageRoot(), 'node_modules', '@electric-sql', 'pglite', 'package.json');
  const { version } = JSON.parse(readFileSync(pkg, 'utf8')) as { version: string };
  return path.join(os.tmpdir(), `tally-pglite-template-${version}`);
}

export default async function setup(): Promise<void> {
  const dir = pgliteTemplateDir();
  if (existsSync(path.join(dir, 'PG_VERSION'))) return;
  const tmp = `${dir}.${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(tmp);
  await db.close();
  if (!existsSync(path.join(dir, 'PG_VERSION'))) {
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } else {
    rmSync(tmp, { recursive: true, force: true });
  }
}
