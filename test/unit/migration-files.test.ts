import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMigrations, migrationsDir, MigrationError, splitStatements } from '../../core/migrate.js';

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tally-mig-'));
  for (const [name, sql] of Object.entries(files)) writeFileSync(path.join(dir, name), sql);
  return dir;
}

describe('migration files', () => {
  it.each(['postgres', 'clickhouse'] as const)('the shipped %s migrations load and are numbered from 1', (engine) => {
    const ms = loadMigrations(migrationsDir(engine));
    expect(ms.length).toBeGreaterThan(0);
    ms.forEach((m, i) => expect(m.version).toBe(i + 1));
  });

  it.each(['postgres', 'clickhouse'] as const)('every shipped %s statement is written to be re-runnable', (engine) => {
    for (const m of loadMigrations(migrationsDir(engine))) {
      for (const s of splitStatements(m.sql)) {
        // Setting a table setting to a value is re-runnable as it stands.
        if (/^ALTER TABLE \S+ MODIFY SETTING /i.test(s)) continue;
        if (/^(CREATE|DROP|ALTER)\b/i.test(s)) expect(s, `${m.name}: ${s.slice(0, 60)}`).toMatch(/IF (NOT )?EXISTS/i);
      }
    }
  });

  it.each([
    ['a gap', { '0001_a.sql': 'x', '0003_c.sql': 'y' }, /expected migration 0002, found 0003_c/],
    ['a repeat', { '0001_a.sql': 'x', '0001_b.sql': 'y' }, /expected migration 0002, found 0001_b/],
    ['not starting at 1', { '0002_a.sql': 'x' }, /expected migration 0001/],
    ['a bad name', { '1_a.sql': 'x' }, /named NNNN_name.sql/],
  ])('refuses a folder with %s', (_what, files, message) => {
    expect(() => loadMigrations(dirWith(files))).toThrow(MigrationError);
    expect(() => loadMigrations(dirWith(files))).toThrow(message);
  });

  it('splits statements at line-ending semicolons and drops comment lines', () => {
    expect(splitStatements('-- c\nCREATE TABLE a (x int);\n\nCREATE TABLE b (y text DEFAULT \';\');\n')).toEqual([
      'CREATE TABLE a (x int)',
      "CREATE TABLE b (y text DEFAULT ';')",
    ]);
  });
});
