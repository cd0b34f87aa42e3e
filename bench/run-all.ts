import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../core/paths.js';
import { renderResultsMarkdown } from './lib/report.js';

/**
 * `npm run bench`: runs every benchmark of ../shared/BENCH.md that exists so far, each in its
 * own process (chDB is one engine per process), then rewrites bench/RESULTS.md.
 * Each is also runnable alone as `npm run bench:<name>`.
 */
export const BENCHMARKS: readonly string[] = ['ingest-single', 'ingest-batch', 'sustained', 'aggregate', 'entitlements', 'rate', 'close'];

const root = packageRoot();
let failed = 0;
if (BENCHMARKS.length === 0) console.log('no benchmarks are defined yet');
for (const name of BENCHMARKS) {
  console.log(`\n=== ${name} ===`);
  // sustained checks some 20 M acknowledged ids against the store in this process.
  const heap = name === 'sustained' ? ['--max-old-space-size=12288'] : [];
  const r = spawnSync(process.execPath, [...heap, path.join(root, 'dist-bench', 'bench', `${name}.js`)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
writeFileSync(path.join(root, 'bench', 'RESULTS.md'), renderResultsMarkdown());
console.log(`\nbench/RESULTS.md rewritten${failed > 0 ? `; ${failed} benchmark(s) failed` : ''}`);
process.exitCode = failed > 0 ? 1 : 0;
