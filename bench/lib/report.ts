import os from 'node:os';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../core/paths.js';

/**
 * What every benchmark writes to bench/results/<name>.json: the machine, the parameters, every
 * figure, and whether its post-run check passed. A benchmark whose check failed reports nothing
 * (`verified: false` and no figures in RESULTS.md).
 */
export interface BenchResult {
  name: string;
  description: string;
  unit: string;
  machine: Machine;
  parameters: Record<string, string | number | boolean>;
  /** Rows of the printed table: one per measured variant (including the in-run references). */
  rows: Record<string, string | number>[];
  /** Headline ratios against references measured in the same run. */
  ratios: Record<string, number>;
  verified: boolean;
  verification: string;
  finishedAt: string;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
}

export function machine(): Machine {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

export function resultsDir(): string {
  return path.join(packageRoot(), 'bench', 'results');
}

export function writeResult(result: BenchResult): void {
  mkdirSync(resultsDir(), { recursive: true });
  writeFileSync(path.join(resultsDir(), `${result.name}.json`), `${JSON.stringify(result, null, 2)}\n`);
}

export function printTable(rows: readonly Record<string, string | number>[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]!);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(width[i]!)).join('  ');
  console.log(line(cols));
  console.log(line(width.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(cols.map((c) => String(r[c] ?? ''))));
}

/**
 * The end of every benchmark: print the table, the ratios and what the post-run check found,
 * write bench/results/<name>.json, and fail the process if the check failed.
 */
export function finishBenchmark(r: Omit<BenchResult, 'machine' | 'finishedAt' | 'verification'> & { checks: readonly string[] }): void {
  printTable(r.rows);
  for (const [k, v] of Object.entries(r.ratios)) console.log(`${k}: ${v.toFixed(3)}`);
  console.log(r.checks.join('\n'));
  const { checks, ...rest } = r;
  writeResult({ ...rest, machine: machine(), verification: checks.join('; '), finishedAt: new Date().toISOString() });
  process.exitCode = r.verified ? 0 : 1;
}

/** bench/RESULTS.md from every result file present. */
export function renderResultsMarkdown(): string {
  const files = readdirSync(resultsDir()).filter((f) => f.endsWith('.json')).sort();
  const out = ['# Benchmark results', '', 'Written by `npm run bench` from `bench/results/*.json`. Every figure that matters is a ratio against a reference measured in the same run (see `../shared/BENCH.md`); absolute numbers stand beside it.', ''];
  if (files.length === 0) out.push('No benchmark has been run yet.', '');
  for (const f of files) {
    const r = JSON.parse(readFileSync(path.join(resultsDir(), f), 'utf8')) as BenchResult;
    out.push(`## ${r.name}`, '', r.description, '');
    out.push(`Machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, Node ${r.machine.node}. Run ${r.finishedAt}.`, '');
    out.push(`Parameters: ${Object.entries(r.parameters).map(([k, v]) => `${k}=${String(v)}`).join(', ')}`, '');
    if (!r.verified) {
      out.push(`**Verification failed: ${r.verification}. No figures are reported.**`, '');
      continue;
    }
    const cols = Object.keys(r.rows[0] ?? {});
    out.push(`| ${cols.join(' | ')} |`, `| ${cols.map(() => '---').join(' | ')} |`);
    for (const row of r.rows) out.push(`| ${cols.map((c) => String(row[c] ?? '')).join(' | ')} |`);
    out.push('');
    for (const [k, v] of Object.entries(r.ratios)) out.push(`- ${k}: **${v.toFixed(2)}**`);
    out.push('', `Verified: ${r.verification}`, '');
  }
  return out.join('\n');
}
