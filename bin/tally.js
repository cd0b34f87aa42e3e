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
process.exitCode = await run(process.argv.slice(2), process.env);
