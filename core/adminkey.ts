import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Config } from './config.js';
import { generateAdminKey } from './apikeys.js';

export interface AdminKeySource {
  /** The admin key, or undefined when admin routes are disabled. */
  key: string | undefined;
  /** Where it came from: shown at start-up so the operator knows what to use. */
  origin: 'env' | 'generated' | 'data-dir' | 'none';
  file?: string;
}

/**
 * TALLY_ADMIN_KEY wins. Without it, on the embedded Postgres (one machine, one process) a key
 * is generated once and kept in the data dir with owner-only permissions. A Postgres server
 * is shared by many nodes that could not agree on a generated key, so there the admin routes
 * stay disabled until the variable is set.
 */
export function resolveAdminKey(config: Config): AdminKeySource {
  if (config.adminKey !== undefined) return { key: config.adminKey, origin: 'env' };
  if (config.postgres.url !== undefined) return { key: undefined, origin: 'none' };
  const file = path.join(config.dataDir, 'admin.key');
  if (existsSync(file)) {
    const key = readFileSync(file, 'utf8').trim();
    if (key.length >= 24) return { key, origin: 'data-dir', file };
  }
  mkdirSync(config.dataDir, { recursive: true });
  const key = generateAdminKey();
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return { key, origin: 'generated', file };
}
