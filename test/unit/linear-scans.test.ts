import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { withoutTrailingZeros } from '../../core/money.js';
import { packageRoot } from '../../core/paths.js';
import { productionFiles } from '../support/imports.js';

/**
 * `replace(/0+$/, '')` restarts at every zero of a run that is not at the end, so a number with
 * a long run of zeros before its last digit (which any client can send) held the event loop
 * for seconds to hours: quadratic. Decimal digits are stripped with `withoutTrailingZeros`, a
 * loop. A timing test could not tell the two apart on a busy machine, so the sources are read.
 */
describe('trailing zeros', () => {
  it('are stripped by the linear helper everywhere, never by /0+$/', () => {
    // Comment lines (this very warning, in core/money.ts) are not code.
    const code = (file: string) => readFileSync(path.join(packageRoot(), file), 'utf8').split('\n').filter((line) => !/^\s*(\*|\/\/)/.test(line));
    const offenders = productionFiles().filter((file) => code(file).some((line) => line.includes('/0+$/')));
    expect(offenders).toEqual([]);
  });

  it('the helper', () => {
    expect(withoutTrailingZeros('2500')).toBe('25');
    expect(withoutTrailingZeros('000')).toBe('');
    expect(withoutTrailingZeros('105')).toBe('105');
    expect(withoutTrailingZeros(`1${'0'.repeat(200_000)}1`)).toHaveLength(200_002);
  });
});
