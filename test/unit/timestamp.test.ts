import { describe, expect, it } from 'vitest';
import { clickhouseTime, parseTimestamp } from '../../core/time.js';

describe('RFC 3339 timestamps', () => {
  it.each([
    ['2026-11-22T10:00:00Z', Date.UTC(2026, 10, 22, 10)],
    ['2026-11-22T10:00:00.5Z', Date.UTC(2026, 10, 22, 10, 0, 0, 500)],
    ['2026-11-22t10:00:00.123456789z', Date.UTC(2026, 10, 22, 10, 0, 0, 123)],
    ['2026-11-22 10:00:00.999999Z', Date.UTC(2026, 10, 22, 10, 0, 0, 999)],
    ['2026-11-22T11:30:00+01:30', Date.UTC(2026, 10, 22, 10)],
    ['2026-11-22T05:00:00-05:00', Date.UTC(2026, 10, 22, 10)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    // Years below 100 are those years (Date.UTC alone would read them as 1900 + year).
    ['0050-06-01T12:00:00Z', new Date('0050-06-01T12:00:00Z').getTime()],
    ['0000-02-29T00:00:00Z', new Date('0000-02-29T00:00:00Z').getTime()],
    ['0099-12-31T23:59:59.999+00:00', new Date('0099-12-31T23:59:59.999Z').getTime()],
    // The ends of what RFC 3339 writes in UTC.
    ['0000-01-01T00:00:00Z', new Date('0000-01-01T00:00:00Z').getTime()],
    ['0000-01-01T01:00:00+01:00', new Date('0000-01-01T00:00:00Z').getTime()],
    ['9999-12-31T18:59:59.999-05:00', new Date('9999-12-31T23:59:59.999Z').getTime()],
  ])('%s is %i', (text, ms) => {
    expect(parseTimestamp(text)).toBe(ms);
  });

  it.each(['2026-11-22T10:00:00', '2026-11-22', '2025-02-29T00:00:00Z', '0001-02-29T00:00:00Z', '2026-13-01T00:00:00Z', '2026-11-22T24:00:00Z', '2026-11-22T10:60:00Z', '2026-11-22T10:00:00+25:00', 'yesterday', '',
    // Real instants outside years 0000–9999 in UTC, which would be answered as +010000-… or -000001-….
    '9999-12-31T23:00:00-05:00', '0000-01-01T00:30:00+01:00'])(
    '%j is not a timestamp',
    (text) => {
      expect(parseTimestamp(text)).toBeUndefined();
    },
  );

  it('truncates to the millisecond, never across an hour', () => {
    expect(parseTimestamp('2026-11-22T10:59:59.9999999Z')).toBe(Date.UTC(2026, 10, 22, 10, 59, 59, 999));
  });

  it('formats for ClickHouse exactly as toISOString would, across days, years and epochs', () => {
    const samples = [0, 1, 999, 1000, 59_999, 3_599_999, 86_399_999, 86_400_000, Date.UTC(2024, 1, 29, 23, 59, 59, 7), Date.UTC(2026, 10, 22, 10, 0, 0, 123)];
    for (let i = 0; i < 2000; i++) samples.push(Math.floor(Math.random() * 4_102_444_800_000));
    for (const ms of samples) {
      const iso = new Date(ms).toISOString();
      expect(clickhouseTime(ms), String(ms)).toBe(`${iso.slice(0, 10)} ${iso.slice(11, 23)}`);
    }
  });
});
