import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/paths.js';

/**
 * What the production build (tsconfig.build.json → dist/ → the Docker image) may contain. The
 * Stripe test server, the tests and their helpers, and the benchmarks have builds of their own;
 * tsc compiles whatever a compiled file imports, so a single import from production code would
 * put them back into dist/. Checked on the import specifiers of the sources: no build needed.
 */
const ROOT = packageRoot();
const NOT_PRODUCTION = ['stripe-fake', 'test', 'bench'] as const;
/** Top-level folders that hold no source: dependencies, build outputs, deployment files. */
const NOT_SOURCE = new Set(['node_modules', 'dist', 'dist-bench', 'dist-stripe-fake', 'deploy', 'scripts', 'bin']);
/** The production files the Stripe test server may use: the one decimal of the code. */
const STRIPE_FAKE_USES = ['core/money.ts'];

const rel = (file: string) => path.relative(ROOT, file).split(path.sep).join('/');
const topFolder = (relPath: string) => relPath.split('/')[0]!;

/** Module specifiers a source imports or re-exports (static, type-only, side-effect and literal dynamic imports). */
function specifiers(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** Each relative import of a file, as the path (from the package root) it points at. */
function importedPaths(file: string): string[] {
  return specifiers(readFileSync(file, 'utf8'))
    .filter((s) => s.startsWith('./') || s.startsWith('../'))
    .map((s) => rel(path.resolve(path.dirname(file), s)).replace(/\.js$/, '.ts'));
}

function tsFilesUnder(dir: string): string[] {
  return readdirSync(dir, { encoding: 'utf8', recursive: true })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => path.join(dir, name));
}

function buildConfig(): ts.ParsedCommandLine {
  const parsed = ts.getParsedCommandLineOfConfigFile(path.join(ROOT, 'tsconfig.build.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (parsed === undefined) throw new Error('tsconfig.build.json cannot be read');
  return parsed;
}

/**
 * The files of the production build, and those of every other top-level source folder (a
 * folder not yet listed in tsconfig.build.json is still compiled once a listed file imports it).
 */
function productionFiles(): string[] {
  const folders = readdirSync(ROOT, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.') && !NOT_SOURCE.has(e.name) && !(NOT_PRODUCTION as readonly string[]).includes(e.name))
    .map((e) => path.join(ROOT, e.name));
  return [...new Set([...buildConfig().fileNames.map((f) => path.resolve(f)), ...folders.flatMap(tsFilesUnder)])].sort();
}

describe('the production build', () => {
  it('compiles none of the folders that are not production code', () => {
    const config = buildConfig();
    const included = (config.raw as { include?: string[] }).include ?? [];
    expect(included.length, 'tsconfig.build.json lists its folders').toBeGreaterThan(0);
    expect(included.filter((f) => (NOT_PRODUCTION as readonly string[]).includes(topFolder(f)))).toEqual([]);
    const files = config.fileNames.map((f) => rel(path.resolve(f)));
    expect(files, 'the entry point of the tally command is compiled').toContain('cli/main.ts');
    expect(files.filter((f) => (NOT_PRODUCTION as readonly string[]).includes(topFolder(f)))).toEqual([]);
  });

  it('has no file that imports the Stripe test server, the tests or the benchmarks', () => {
    const files = productionFiles();
    expect(files.length, 'production files were found').toBeGreaterThan(100);
    const offending = files.flatMap((file) =>
      importedPaths(file)
        .filter((target) => (NOT_PRODUCTION as readonly string[]).includes(topFolder(target)))
        .map((target) => `${rel(file)} imports ${target}`),
    );
    expect(offending).toEqual([]);
  });

  it('is all the Stripe test server takes from production code: core/money.ts', () => {
    const used = tsFilesUnder(path.join(ROOT, 'stripe-fake')).flatMap((file) => importedPaths(file).filter((target) => topFolder(target) !== 'stripe-fake'));
    expect([...new Set(used)].sort()).toEqual(STRIPE_FAKE_USES);
  });
});

describe('the import scanner', () => {
  it.each([
    ['a named import', "import { startStripeFake } from '../stripe-fake/index.js';", '../stripe-fake/index.js'],
    ['a type-only import', "import type { StripeFake } from '../../stripe-fake/api.js';", '../../stripe-fake/api.js'],
    ['a re-export', "export { faultyWriter } from '../test/support/faulty-writer.js';", '../test/support/faulty-writer.js'],
    ['a side-effect import', "import '../test/support/setup.js';", '../test/support/setup.js'],
    ['a dynamic import of a literal', "const m = await import('../stripe-fake/server.js');", '../stripe-fake/server.js'],
    ['an import spread over lines', "import {\n  a,\n  b,\n} from '../bench/lib/report.js';", '../bench/lib/report.js'],
  ])('finds %s', (_case, source, specifier) => {
    expect(specifiers(source)).toEqual([specifier]);
  });

  it('maps a specifier to the file it names, from the package root', () => {
    expect(importedPaths(path.join(ROOT, 'stripe-fake', 'currency.ts'))).toContain('core/money.ts');
  });
});
