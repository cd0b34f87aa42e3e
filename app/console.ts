import path from 'node:path';
import { packageRoot } from '../core/paths.js';
import { TallyError } from '../core/errors.js';
import type { Reply, Route } from '../http/types.js';
import { notModified, readStaticFiles, type StaticFile } from '../http/static-files.js';

/**
 * The page's own rules: scripts and styles from this server only (the bundle has no inline
 * script), the invoice PDF shown from a blob: URL, never framed by another site.
 */
const CSP =
  "default-src 'self'; img-src 'self' data: blob:; frame-src 'self' blob:; object-src 'self' blob:; style-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
// X-Content-Type-Options: nosniff comes with every answer (http/exchange.ts).
const COMMON = { 'Referrer-Policy': 'no-referrer' };

/** Where `npm run build` writes the console (scripts/build-console.mjs). */
export const CONSOLE_DIR = path.join(packageRoot(), 'dist', 'console');

/**
 * The web console at `/console`: one HTML page (revalidated on every load, so a new build shows
 * at once) and its assets, whose names carry a hash of their content and so are cached for a
 * year. Files are read once, at start. The console signs in with an API key and calls the
 * public API like any client: these routes serve files and nothing else.
 */
export function consoleRoutes(dir: string = CONSOLE_DIR): Route[] {
  const files = readStaticFiles(dir);
  const send = (file: StaticFile | undefined, ifNoneMatch: string | undefined, cache: string, extra: Record<string, string> = {}): Reply => {
    if (file === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', 'no such console file');
    const headers = { ...COMMON, ...extra, 'Cache-Control': cache, ETag: file.etag };
    if (notModified(ifNoneMatch, file)) return { status: 304, body: Buffer.alloc(0), contentType: file.contentType, headers };
    return { status: 200, body: file.body, contentType: file.contentType, headers };
  };
  const page = (req: { headers: Readonly<Record<string, string>> }): Reply => {
    const index = files.get('index.html');
    if (index === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', 'the console is not built: run `npm run build`');
    return send(index, req.headers['if-none-match'], 'no-cache', { 'Content-Security-Policy': CSP });
  };
  const pageDoc = (operationId: string) => ({
    operationId,
    tag: 'Console',
    summary: 'The web console',
    description: 'Sign in with a tenant API key (kept in the browser session only) or the admin key. Everything it shows comes from this API.',
    responses: { 200: { description: 'The page.', contentType: 'text/html', schema: { type: 'string' } } },
    errors: ['TALLY_ERR_NOT_FOUND' as const],
  });
  return [
    { method: 'GET', pattern: '/console', access: 'public', doc: pageDoc('getConsole'), handler: page },
    { method: 'GET', pattern: '/console/', access: 'public', doc: pageDoc('getConsoleSlash'), handler: page },
    {
      method: 'GET',
      pattern: '/console/assets/:file',
      access: 'public',
      doc: {
        operationId: 'getConsoleAsset',
        tag: 'Console',
        summary: "A console asset (script, style sheet); its name carries a hash of its content",
        path: { file: 'The file name.' },
        responses: { 200: { description: 'The file, cached for a year.', contentType: 'application/octet-stream', schema: { type: 'string' } } },
        errors: ['TALLY_ERR_NOT_FOUND'],
      },
      handler: (req) => send(files.get(`assets/${req.params.file!}`), req.headers['if-none-match'], 'public, max-age=31536000, immutable'),
    },
  ];
}
