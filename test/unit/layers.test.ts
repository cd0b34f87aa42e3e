import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/paths.js';
import { importsOf, productionFiles, specifiersOf } from '../support/imports.js';

/**
 * The layers of the README's layout, checked on the sources: a folder imports only from its own
 * layer or the ones below; a new top-level folder must be given a layer here; the pure rating
 * core imports nothing but the money module and its own files (the pool and its worker are the
 * only files of rating/ that touch threads).
 */
const LAYERS: Record<string, number> = {
  cli: 4,
  app: 3,
  tenants: 2, ingest: 2, metering: 2, catalog: 2, invoicing: 2, documents: 2, stripe: 2, webhooks: 2, mail: 2, alerts: 2, analytics: 2, entitlements: 2, demo: 2,
  rating: 1,
  http: 0, core: 0,
};
/** Which other domains each domain may import (README, Layout): a one-way order, so no two read each other. */
const DOMAIN_READS: Record<string, readonly string[]> = {
  tenants: [],
  metering: [],
  ingest: ['metering'],
  catalog: ['metering'],
  invoicing: ['catalog', 'metering'],
  documents: ['invoicing', 'catalog'],
  webhooks: ['invoicing', 'catalog'],
  mail: ['documents', 'invoicing', 'catalog'],
  alerts: ['webhooks', 'invoicing', 'catalog'],
  stripe: ['webhooks', 'invoicing', 'catalog'],
  analytics: ['catalog'],
  entitlements: ['catalog', 'metering'],
  demo: [],
};
/** The browser console: a program of its own that reaches the server over HTTP only, with these packages. */
const CONSOLE = 'console';
const CONSOLE_PACKAGES = ['preact', 'uplot'];
const top = (file: string) => file.split('/')[0]!;
const RATING_SHELL = new Set(['rating/pool.ts', 'rating/worker.ts']);

/** Whether `file` importing `target` goes up the layers (a folder without a layer counts as the top). */
const upward = (file: string, target: string): boolean => (LAYERS[top(target)] ?? Infinity) > (LAYERS[top(file)] ?? -1);

describe('layers', () => {
  it('every production folder has a layer', () => {
    expect([...new Set(productionFiles().map(top))].filter((folder) => LAYERS[folder] === undefined)).toEqual([]);
  });

  it('no import reaches a higher layer', () => {
    expect(productionFiles().flatMap((file) => importsOf(file).filter((target) => upward(file, target)).map((target) => `${file} -> ${target}`))).toEqual([]);
  });

  it('within the domain layer, a domain imports only the domains the README names (one way, below it)', () => {
    const crossing = productionFiles()
      .filter((file) => LAYERS[top(file)] === 2)
      .flatMap((file) => importsOf(file).filter((target) => LAYERS[top(target)] === 2 && top(target) !== top(file)).map((target) => [top(file), top(target), `${file} -> ${target}`] as const))
      .filter(([from, to]) => !(DOMAIN_READS[from] ?? []).includes(to))
      .map(([, , edge]) => edge);
    expect(crossing).toEqual([]);
  });

  it('the pure rating core imports only the money module and its own files, and no Node module', () => {
    const impure = productionFiles()
      .filter((file) => top(file) === 'rating' && !RATING_SHELL.has(file))
      .flatMap((file) => [
        ...importsOf(file).filter((target) => top(target) !== 'rating' && target !== 'core/money.ts').map((target) => `${file} -> ${target}`),
        ...specifiersOf(file).filter((s) => !s.startsWith('.')).map((s) => `${file} -> ${s}`),
      ]);
    expect(impure).toEqual([]);
  });

  it('the browser console imports only its own files and its browser packages', () => {
    const files = readdirSync(path.join(packageRoot(), CONSOLE), { encoding: 'utf8', recursive: true })
      .filter((name) => /\.tsx?$/.test(name))
      .map((name) => `${CONSOLE}/${name.split(path.sep).join('/')}`);
    expect(files.length, 'console sources were found').toBeGreaterThan(10);
    const outside = files.flatMap((file) =>
      specifiersOf(file)
        .filter((s) => (s.startsWith('.') ? top(path.posix.join(path.posix.dirname(file), s)) !== CONSOLE : !CONSOLE_PACKAGES.includes(s.split('/')[0]!)))
        .map((s) => `${file} -> ${s}`),
    );
    expect(outside).toEqual([]);
  });

  it.each([
    ['core/money.ts', 'invoicing/close.ts', true],
    ['http/server.ts', 'app/api.ts', true],
    ['rating/core.ts', 'invoicing/compose.ts', true],
    ['invoicing/close.ts', 'cli/main.ts', true],
    ['invoicing/close.ts', 'stripe/outbox.ts', false],
    ['invoicing/close.ts', 'rating/core.ts', false],
    ['app/api.ts', 'http/server.ts', false],
  ])('%s importing %s goes up: %s', (file, target, expected) => {
    expect(upward(file, target)).toBe(expected);
  });
});
