import { describe, expect, it } from 'vitest';
import type { EventRow, Rejection } from '../../ingest/event.js';
import { LiveFeed, type Outcome } from '../../ingest/live.js';

const row = (id: string, tenant = 't1'): EventRow => ({ tenant_id: tenant, id, customer: 'c', meter: 'm', value: '1', timestamp: 0, properties: '{}', ingested_at: 0 });
const accepted = (id: string): Outcome => ({ row: row(id), duplicate: false });
const rejection = (index: number, code: Rejection['code']): Outcome => ({ index, code, message: 'bad' });

describe('the live feed', () => {
  it('counts per second over the last minute only, and lists the last events newest first', () => {
    let now = Date.parse('2026-12-03T10:00:00.500Z');
    const feed = new LiveFeed('node-1', () => now);
    feed.record('t1', now, [], [accepted('a'), rejection(1, 'TALLY_ERR_VALUE_INVALID'), { row: row('a'), duplicate: true }]);
    now += 30_000;
    feed.record('t1', now, [], [accepted('b')]);
    let view = feed.view('t1');
    expect(view.totals).toEqual({ accepted: 2, duplicates: 1, rejected: 1 });
    expect(view.rejected_by_code).toEqual({ TALLY_ERR_VALUE_INVALID: 1 });
    expect(view.per_second.at(-1)).toEqual({ at: '2026-12-03T10:00:30.000Z', accepted: 1, duplicates: 0, rejected: 0 });
    expect(view.per_second.at(-31)).toEqual({ at: '2026-12-03T10:00:00.000Z', accepted: 1, duplicates: 1, rejected: 1 });
    expect(view.recent.map((e) => [e.id, e.result])).toEqual([
      ['b', 'accepted'],
      ['a', 'duplicate'],
      [null, 'rejected'],
      ['a', 'accepted'],
    ]);
    // A minute after the first request, its second has left the window; a slot reused after 60 s starts from zero.
    now += 30_000;
    view = feed.view('t1');
    expect(view.totals).toEqual({ accepted: 1, duplicates: 0, rejected: 0 });
    now += 30_000;
    feed.record('t1', now, [], [accepted('c')]);
    expect(feed.view('t1').totals).toEqual({ accepted: 1, duplicates: 0, rejected: 0 });
    expect(feed.view('t1').recent).toHaveLength(5);
  });

  it('keeps the most recently active tenants only', () => {
    const now = Date.now();
    const feed = new LiveFeed('node-1', () => now, 2);
    feed.record('t1', now, [], [accepted('1')]);
    feed.record('t2', now, [], [accepted('2')]);
    feed.record('t1', now, [], [accepted('3')]);
    feed.record('t3', now, [], [accepted('4')]);
    expect(feed.view('t2').recent).toEqual([]);
    expect(feed.view('t1').recent.map((e) => e.id)).toEqual(['3', '1']);
    expect(feed.view('t3').recent.map((e) => e.id)).toEqual(['4']);
  });

  it('shows what a rejected event sent, cut short, for native events and CloudEvents', () => {
    const now = Date.now();
    const feed = new LiveFeed('node-1', () => now);
    feed.record(
      't1',
      now,
      [
        { kind: 'native', lossless: false, data: { id: 'x'.repeat(500), customer: 7, meter: 'm', timestamp: 'yesterday' } },
        { kind: 'cloudevent', lossless: false, data: { id: 'ce1', type: 'calls', subject: 'acme', time: 'soon' } },
        { kind: 'malformed', message: 'not JSON' },
      ],
      [rejection(0, 'TALLY_ERR_CUSTOMER_INVALID'), rejection(1, 'TALLY_ERR_TIMESTAMP_INVALID'), rejection(2, 'TALLY_ERR_INVALID_JSON')],
    );
    const [malformed, cloud, native] = feed.view('t1').recent;
    expect(native).toMatchObject({ meter: 'm', customer: null, timestamp: 'yesterday', code: 'TALLY_ERR_CUSTOMER_INVALID' });
    expect(native!.id).toHaveLength(200);
    expect(cloud).toMatchObject({ id: 'ce1', meter: 'calls', customer: 'acme', timestamp: 'soon' });
    expect(malformed).toMatchObject({ id: null, meter: null, customer: null, result: 'rejected' });
  });
});
