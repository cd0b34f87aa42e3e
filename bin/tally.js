#!/usr/bin/env node
// The `tally` command: built JavaScript lives in dist/ (`npm run build`, run by `npm start`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('tally: not built yet; run `npm run build` (npm start does it for you)\n');
  process.exit(1);
}
const { run } = await import(main.href);
const code = await run(process.argv.slice(2), process.env);
process.exitCode = code;
// The command has finished and closed what it opened, so the process should end now. If a handle
// is still open (a library's timer or socket), say which and end anyway: a cron job or a deploy
// script waiting on `tally close` must never hang on it.
const EXIT_GRACE_MS = 5_000;
setTimeout(() => {
  const open = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
  process.stderr.write(`tally: still running ${EXIT_GRACE_MS / 1000} s after the command finished (open: ${open.join(', ') || 'none'}); exiting\n`);
  process.exit(code);
}, EXIT_GRACE_MS).unref();
