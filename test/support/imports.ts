import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { packageRoot } from '../../core/paths.js';

/** The import graph of the production sources, read from their import specifiers (type-only imports included). */
const ROOT = packageRoot();
/** Top-level folders that hold no production source of the server (console/ is the browser's, checked on its own in layers.test.ts). */
const NOT_PRODUCTION = new Set(['node_modules', 'dist', 'dist-bench', 'dist-stripe-fake', 'deploy', 'scripts', 'bin', 'test', 'bench', 'stripe-fake', 'console']);

const rel = (file: string) => path.relative(ROOT, file).split(path.sep).join('/');

/** Every specifier a source file imports, as written (`./x.js`, `piscina`, `node:os`). */
export function specifiersOf(relPath: string): string[] {
  return ts.preProcessFile(readFileSync(path.join(ROOT, relPath), 'utf8'), true, true).importedFiles.map((f) => f.fileName);
}

/** Each relative import of a source file, as the path (from the package root) of the file it names. */
export function importsOf(relPath: string): string[] {
  const file = path.join(ROOT, relPath);
  return specifiersOf(relPath)
    .filter((s) => s.startsWith('./') || s.startsWith('../'))
    .map((s) => rel(path.resolve(path.dirname(file), s)).replace(/\.js$/, '.ts'))
    .filter((target) => existsSync(path.join(ROOT, target)));
}

/** Every production source file, from the package root. */
export function productionFiles(): string[] {
  return readdirSync(ROOT, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.') && !NOT_PRODUCTION.has(e.name))
    .flatMap((e) => readdirSync(path.join(ROOT, e.name), { encoding: 'utf8', recursive: true }).filter((n) => n.endsWith('.ts')).map((n) => `${e.name}/${n.split(path.sep).join('/')}`))
    .sort();
}
