import { describe, expect, it } from 'vitest';
import { withRatedHours } from '../../invoicing/quantities.js';
import { Series } from '../../rating/series.js';

/**
 * Hours rated earlier that a segment's usage no longer has are kept, with nothing added: each
 * holds the cumulative quantity of the hour before it, or 0 before the first (what the rater
 * writes over the stale rated row).
 */
const usage = new Series(3, '7200,14400,21600', '1.5,4,4.25');

describe('withRatedHours', () => {
  it.each([
    ['no rated hours', undefined, '7200,14400,21600', '1.5,4,4.25'],
    ['no rated hours (empty text)', '', '7200,14400,21600', '1.5,4,4.25'],
    ['the same hours', '7200,14400,21600', '7200,14400,21600', '1.5,4,4.25'],
    ['the first hours (usage grew since)', '7200,14400', '7200,14400,21600', '1.5,4,4.25'],
    ['some of the hours', '14400', '7200,14400,21600', '1.5,4,4.25'],
    ['a text prefix that is another hour', '720', '720,7200,14400,21600', '0,1.5,4,4.25'],
    ['an hour before the first: 0', '3600', '3600,7200,14400,21600', '0,1.5,4,4.25'],
    ['an hour between: the one before', '7200,10800', '7200,10800,14400,21600', '1.5,1.5,4,4.25'],
    ['hours after the last: the last', '25200,28800', '7200,14400,21600,25200,28800', '1.5,4,4.25,4.25,4.25'],
    ['all of them at once', '0,7200,10800,21600,25200', '0,7200,10800,14400,21600,25200', '0,1.5,1.5,4,4.25,4.25'],
  ])('%s', (_, rated, hours, quantities) => {
    const got = withRatedHours(usage, rated);
    expect([got.hoursText, got.quantitiesText, got.count]).toEqual([hours, quantities, hours.split(',').length]);
  });

  it('keeps the series itself when nothing is added (no copy of its text)', () => {
    expect(withRatedHours(usage, '7200,21600')).toBe(usage);
  });

  it('a segment without usage gets 0 at every rated hour', () => {
    const got = withRatedHours(Series.EMPTY, '3600,7200');
    expect([got.count, got.hoursText, got.quantitiesText]).toEqual([2, '3600,7200', '0,0']);
  });
});
