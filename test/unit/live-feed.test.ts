import { describe, expect, it } from 'vitest';
import { createRegistry } from '../../core/metrics.js';
import { RecentIds } from '../../ingest/dedup.js';
import type { EventRow, RawEvent, Rejection } from '../../ingest/event.js';
import type { IngestLog } from '../../ingest/event-log.js';
import { LiveFeed, type Outcome } from '../../ingest/live.js';
import { ingestMetrics } from '../../ingest/metrics.js';
import { IngestService } from '../../ingest/service.js';

const row = (id: string, tenant = 't1'): EventRow => ({ tenant_id: tenant, id, customer: 'c', meter: 'm', value: '1', timestamp: 0, properties: '{}', ingested_at: 0 });
const accepted = (id: string): Outcome => row(id);
const rejection = (index: number, code: Rejection['code']): Outcome => ({ index, code, message: 'bad' });

describe('the live feed', () => {
  it('counts per second over the last minute only, and lists the last events newest first', () => {
    let now = Date.parse('2026-12-03T10:00:00.500Z');
    const feed = new LiveFeed('node-1', () => now);
    feed.record('t1', now, [], [accepted('a'), rejection(1, 'TALLY_ERR_VALUE_INVALID'), { duplicate: row('a') }]);
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

describe('the live feed on the ingest path', () => {
  const limits = { maxProperties: 10, maxPropertiesBytes: 10_000, maxAgeSeconds: 86_400, maxFutureSeconds: 300 };
  const native = (data: unknown): RawEvent => ({ kind: 'native', data, lossless: false });
  // The log's interface as the service uses it: an append that lands, or fails like a full disk.
  const logThat = (fails: boolean) => ({ append: () => (fails ? Promise.reject(new Error('disk full')) : Promise.resolve()) }) as unknown as IngestLog;

  it('records what the answer says, and nothing of a request whose append failed', async () => {
    const feed = new LiveFeed('node-1');
    const ok = new IngestService(logThat(false), new RecentIds(100), limits, ingestMetrics(createRegistry()), Date.now, feed);
    const events = [native({ id: 'a', customer: 'c', meter: 'm' }), native({ id: 'a', customer: 'c', meter: 'm' }), native({ id: 'b', customer: 'c', meter: 'm', [`k${'x'.repeat(5_000)}`]: 1 })];
    const result = await ok.ingest('t1', events);
    expect(result).toMatchObject({ accepted: 1, duplicates: 1 });
    const view = feed.view('t1');
    expect(view.totals).toEqual({ accepted: 1, duplicates: 1, rejected: 1 });
    // The unknown key is quoted short in the answer, and the kept message is cut to 200 characters.
    expect(result.rejected[0]!.message.length).toBeLessThan(300);
    expect(view.recent[0]!.message!.length).toBeLessThanOrEqual(200);

    const failing = new IngestService(logThat(true), new RecentIds(100), limits, ingestMetrics(createRegistry()), Date.now, feed);
    await expect(failing.ingest('t2', [native({ id: 'z', customer: 'c', meter: 'm' })])).rejects.toThrow('disk full');
    expect(feed.view('t2').totals).toEqual({ accepted: 0, duplicates: 0, rejected: 0 });
    expect(feed.view('t2').recent).toEqual([]);
  });
});
