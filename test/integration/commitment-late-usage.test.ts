import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../../core/metrics.js';
import { CommitmentService } from '../../catalog/commitments.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { jsonRequest, startTestApi, testAggregator, type TestApi } from '../support/api.js';

/**
 * A minimum spend is per period: late usage of an earlier period is held against that period's
 * own minimum spend when it is billed (as adjustments on a later invoice), and the later
 * period's minimum spend is held against its own charges only. 50 a period for three periods
 * is 150, whatever the usage of the first did after it was invoiced.
 */
let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let stack: RatingStack;
let sub: string;
let seq = 0;
const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);
const event = async (value: string, at: string) => expect((await call('POST', '/v1/events', { id: `e${++seq}`, customer: 'nm', meter: 'm', value, timestamp: at })).body).toMatchObject({ accepted: 1 });
const close = async (at: string) => {
  await api.drain();
  await testAggregator(api).runOnce();
  await stack.billing.close(new Date(at));
};
const invoices = async () =>
  ((await call('GET', `/v1/invoices?subscription=${sub}`)).body.data as { period_start: string; total: string; lines: { type: string; meter: string | null; amount: string }[] }[]).sort((a, b) =>
    a.period_start.localeCompare(b.period_start),
  );
const lines = (inv: { lines: { type: string; meter: string | null; amount: string }[] }) => inv.lines.map((l) => [l.type, l.meter, l.amount]);

beforeAll(async () => {
  // Fixed dates of 2026: the age limit is lifted so the test means the same on any later day.
  api = await startTestApi({ env: { TALLY_EVENT_MAX_AGE_SECONDS: String(10 * 365 * 86_400) } });
  t = await api.tenant('commitment-late');
  stack = createRatingStack(api.stores.config, api.stores, createRegistry());
  await call('POST', '/v1/meters', { key: 'm', name: 'M', aggregation: 'sum' });
  await call('POST', '/v1/plans', { code: 'u0', name: 'Usage', currency: 'USD', interval: 'month', base_fee: '0', charges: [{ meter: 'm', model: 'per_unit', unit_price: '1' }] });
  await call('POST', '/v1/customers', { id: 'nm', name: 'NM', currency: 'USD' });
  sub = (await call('POST', '/v1/subscriptions', { customer: 'nm', plan: 'u0', start_date: '2026-08-01T00:00:00Z' })).body.id as string;
  await new CommitmentService(api.stores.postgres).set(t.id, sub, { minimum_spend: '50', until: '2027-08-01T00:00:00Z' }, 'test', new Date('2026-08-02T00:00:00Z'));
}, 120_000);
afterAll(async () => {
  await stack?.pool.close();
  await api.stop();
});

describe('a minimum spend and late usage', () => {
  it('August: 100 used, above the minimum spend', async () => {
    await event('100', '2026-08-05T00:00:00Z');
    await close('2026-09-01T02:00:00Z');
    const [aug] = await invoices();
    expect(lines(aug!)).toEqual([
      ['base_fee', null, '0.000000'],
      ['usage', 'm', '100.000000'],
    ]);
    expect(aug!.total).toBe('100.00');
  });

  it("August's usage taken back: August's own minimum spend tops it up to 50 again; September has its own", async () => {
    await event('-100', '2026-08-06T00:00:00Z');
    await close('2026-10-01T02:00:00Z');
    const [, sep] = await invoices();
    expect(lines(sep!)).toEqual([
      ['base_fee', null, '0.000000'],
      ['usage', 'm', '0.000000'],
      ['adjustment', 'm', '-100.000000'],
      ['adjustment', null, '50.000000'],
      ['minimum', null, '50.000000'],
    ]);
    // August now costs 50 (its minimum spend), so 50 comes back; September costs its 50.
    expect(sep!.total).toBe('0.00');
  });

  it('usage added to August under its minimum spend was paid for already: nothing more', async () => {
    await event('30', '2026-08-07T00:00:00Z');
    await close('2026-11-01T02:00:00Z');
    const [, , oct] = await invoices();
    expect(lines(oct!)).toEqual([
      ['base_fee', null, '0.000000'],
      ['usage', 'm', '0.000000'],
      ['adjustment', 'm', '30.000000'],
      ['adjustment', null, '-30.000000'],
      ['minimum', null, '50.000000'],
    ]);
    expect(oct!.total).toBe('50.00');
    // Three periods at a minimum spend of 50: 150 in all.
    expect((await invoices()).reduce((s, i) => s + Number(i.total), 0)).toBe(150);
  });
});
