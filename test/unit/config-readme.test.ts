import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../core/config.js';

/** The rows of the README's `## Configuration` table: variable and default cell, in order. */
function readmeRows(): { variable: string; default: string }[] {
  const readme = readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
  const start = readme.indexOf('\n## Configuration\n');
  expect(start, 'README.md has a "## Configuration" section').toBeGreaterThanOrEqual(0);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const cells = line.split(' | ');
      return { variable: cells[0]!.replace(/^\| `|`$/g, ''), default: cells[1]! };
    });
}

// The README cell for a default: the value in backticks, or in words what unset means.
const documented = (s: (typeof SETTINGS)[number]): string => s.unset ?? `\`${s.shownDefault}\``;

describe('the README configuration table', () => {
  it('lists exactly the declared variables, in the order of --help', () => {
    expect(readmeRows().map((r) => r.variable)).toEqual(SETTINGS.map((s) => s.variable));
  });

  it.each(SETTINGS.map((s) => [s.variable, documented(s)] as const))('gives %s the default %s', (variable, expected) => {
    const row = readmeRows().find((r) => r.variable === variable);
    expect(row?.default, `README row of ${variable}`).toBe(expected);
  });
});
