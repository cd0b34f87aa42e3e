import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** A file served as it is, read once at start. */
export interface StaticFile {
  body: Buffer;
  contentType: string;
  /** A strong validator of the content, quoted as the header carries it. */
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.ico': 'image/x-icon',
};

/**
 * Every file under `dir` (recursively), by its path relative to `dir` with `/` separators.
 * Empty when `dir` does not exist. Only the extensions in the table are served: anything else
 * that lands in the folder stays private.
 */
export function readStaticFiles(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!existsSync(dir)) return files;
  for (const name of readdirSync(dir, { encoding: 'utf8', recursive: true })) {
    const full = path.join(dir, name);
    const contentType = TYPES[path.extname(name).toLowerCase()];
    if (contentType === undefined || !statSync(full).isFile()) continue;
    const body = readFileSync(full);
    files.set(name.split(path.sep).join('/'), { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
  }
  return files;
}

/** Whether the request's `If-None-Match` already names this file's content (a 304 then). */
export function notModified(ifNoneMatch: string | undefined, file: StaticFile): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === file.etag);
}
