import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../../core/metrics.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { jsonRequest, startTestApi, testAggregator, type TestApi } from '../support/api.js';

/**
 * Seats: a subscription's quantity multiplies its plan's base fee; changing it mid-period is
 * prorated as a plan change is (an added seat charges the rest of the period, a removed one
 * credits it), or takes effect at the period's end; usage tiers go on across a change of seats.
 * The invoices below are worked out by hand.
 */
const DAY = 86_400_000;
// A 30-day month in the past (September), so every change can be placed by the clock.
const year = new Date().getUTCFullYear() - 1;
const S = Date.UTC(year, 8, 1);
const iso = (t: number) => new Date(t).toISOString();

let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let stack: RatingStack;
let now = S;
let seq = 0;
let sub: string;
const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);

beforeAll(async () => {
  api = await startTestApi({ env: { TALLY_EVENT_MAX_AGE_SECONDS: String(800 * 86_400), TALLY_CLOSE_GRACE_SECONDS: '3600' }, clock: () => now });
  t = await api.tenant('seats');
  stack = createRatingStack(api.stores.config, api.stores, createRegistry());
  await call('POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum' });
  await call('POST', '/v1/plans', {
    code: 'team',
    name: 'Team',
    currency: 'EUR',
    interval: 'month',
    base_fee: '12.50',
    charges: [{ meter: 'api_calls', model: 'graduated', tiers: [{ up_to: '100', unit_price: '1' }, { up_to: null, unit_price: '0.5' }] }],
  });
  await call('POST', '/v1/customers', { id: 'acme', name: 'Acme', currency: 'EUR' });
}, 60_000);
afterAll(async () => {
  await stack?.pool.close();
  await api?.stop();
});

async function usage(value: string, at: number): Promise<void> {
  const r = await call('POST', '/v1/events', { id: `e${++seq}`, customer: 'acme', meter: 'api_calls', value, timestamp: iso(at) });
  expect(r.body, JSON.stringify(r.body)).toMatchObject({ accepted: 1 });
}

describe('seats', () => {
  it('a subscription is made with a quantity (1 when left out) and refuses one that is not a whole number from 1 to 1,000,000', async () => {
    for (const q of [0, -1, 1.5, 1_000_001, '3']) {
      const r = await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'team', quantity: q, start_date: iso(S) });
      expect(r.status, String(q)).toBe(400);
      expect(r.body.error.field).toBe('quantity');
    }
    const r = await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'team', quantity: 4, start_date: iso(S) });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ quantity: 4, plan: { code: 'team', version: 1 }, pending_change: null });
    sub = r.body.id;
  });

  it('changes seats up and down mid-period and at its end, each in the history and the audit trail', async () => {
    now = S + 10 * DAY;
    expect((await call('POST', `/v1/subscriptions/${sub}/change`, { quantity: 10 })).body).toMatchObject({ quantity: 10 });
    now = S + 20 * DAY;
    expect((await call('POST', `/v1/subscriptions/${sub}/change`, { quantity: 7, prorate: true })).body).toMatchObject({ quantity: 7 });
    now = S + 25 * DAY;
    const scheduled = (await call('POST', `/v1/subscriptions/${sub}/change`, { quantity: 3, at: 'period_end', prorate: false })).body;
    expect(scheduled).toMatchObject({ quantity: 7, pending_change: { plan: { code: 'team', version: 1 }, quantity: 3, at: iso(Date.UTC(year, 9, 1)), prorate: false } });
    expect((await call('POST', `/v1/subscriptions/${sub}/change`, {})).body.error.field).toBe('plan');
    const trail = (await call('GET', `/v1/subscriptions/${sub}/audit`)).body.data as { action: string; details: any }[];
    expect(trail.map((e) => e.action)).toEqual(['created', 'quantity_changed', 'quantity_changed', 'quantity_change_scheduled']);
    expect(trail[1]!.details).toMatchObject({ from: { quantity: 4 }, to: { quantity: 10 }, prorate: true });
  });

  it('September, by hand: 4 seats, 10 from the 11th, 7 from the 21st; usage tiers not cut by the changes', async () => {
    await usage('80', S + 5 * DAY);
    await usage('80', S + 22 * DAY);
    await testAggregator(api).runOnce();
    now = Date.UTC(year, 10, 2);
    await stack.billing.close(new Date(now));
    const invoices = (await call('GET', `/v1/invoices?subscription=${sub}`)).body.data as any[];
    const sept = invoices.find((i) => i.period_start === iso(S))!;
    const lines = (sept.lines as { type: string; amount: string; description: string }[]).map((l) => [l.type, l.amount]);
    expect(lines).toEqual([
      // 4 × 12.50 for the month.
      ['base_fee', '50.000000'],
      // From the 11th, 20 of 30 days left: (10 − 4) × 12.50 × 20/30 = 50.
      ['proration', '50.000000'],
      // From the 21st, 10 of 30 days left: (7 − 10) × 12.50 × 10/30 = −12.50.
      ['proration', '-12.500000'],
      // 160 calls in one segment: 100 × 1 + 60 × 0.5 = 130 (cut at a change, 80 + 80 would be 160).
      ['usage', '130.000000'],
    ]);
    expect(sept.lines[0].description).toContain('Team × 4 seats');
    expect(sept.total).toBe('217.50');
    // October: the 3 seats set for the period's end, without proration.
    const oct = invoices.find((i) => i.period_start === iso(Date.UTC(year, 9, 1)))!;
    expect((oct.lines as { type: string; amount: string }[]).filter((l) => l.type !== 'usage').map((l) => [l.type, l.amount])).toEqual([['base_fee', '37.500000']]);
    expect((await call('GET', `/v1/subscriptions/${sub}`)).body).toMatchObject({ quantity: 3, pending_change: null });
  });

  it('seat tiers: refused with a base fee or tiers out of order', async () => {
    const tiered = { code: 'bad', name: 'Bad', currency: 'EUR', interval: 'month' };
    const withFee = await call('POST', '/v1/plans', { ...tiered, base_fee: '5', seat_pricing: { model: 'graduated', tiers: [{ up_to: null, unit_price: '10' }] } });
    expect([withFee.status, withFee.body.error.code, withFee.body.error.field]).toEqual([400, 'TALLY_ERR_CHARGE_MODEL_FIELDS', 'base_fee']);
    const unordered = await call('POST', '/v1/plans', { ...tiered, seat_pricing: { model: 'volume', tiers: [{ up_to: '5', unit_price: '10' }, { up_to: '3', unit_price: '8' }, { up_to: null, unit_price: '7' }] } });
    expect([unordered.status, unordered.body.error.code, unordered.body.error.field]).toEqual([400, 'TALLY_ERR_TIERS_NOT_ASCENDING', 'seat_pricing.tiers[1].up_to']);
    const model = await call('POST', '/v1/plans', { ...tiered, seat_pricing: { model: 'per_unit', tiers: [{ up_to: null, unit_price: '1' }] } });
    expect([model.status, model.body.error.field]).toEqual([400, 'seat_pricing.model']);
  });

  it('September, by hand, with seat tiers: graduated 8 then 12 seats from the 16th; volume 4 then 6 from the 21st', async () => {
    const graduated = await call('POST', '/v1/plans', {
      code: 'studio',
      name: 'Studio',
      currency: 'EUR',
      interval: 'month',
      seat_pricing: { model: 'graduated', tiers: [{ up_to: '5', unit_price: '10' }, { up_to: null, unit_price: '8' }] },
    });
    expect(graduated.status).toBe(201);
    expect(graduated.body).toMatchObject({ base_fee: '0', seat_pricing: { model: 'graduated', tiers: [{ up_to: '5', unit_price: '10' }, { up_to: null, unit_price: '8' }] } });
    expect((await call('POST', '/v1/plans', { code: 'studio', name: 'Studio', currency: 'EUR', interval: 'month', seat_pricing: graduated.body.seat_pricing })).body.version).toBe(1);
    await call('POST', '/v1/plans', {
      code: 'bulk',
      name: 'Bulk',
      currency: 'EUR',
      interval: 'month',
      seat_pricing: { model: 'volume', tiers: [{ up_to: '5', unit_price: '10' }, { up_to: null, unit_price: '7' }] },
    });
    for (const id of ['beta', 'gamma']) await call('POST', '/v1/customers', { id, name: id, currency: 'EUR' });
    now = S;
    const b = (await call('POST', '/v1/subscriptions', { customer: 'beta', plan: 'studio', quantity: 8, start_date: iso(S) })).body;
    const g = (await call('POST', '/v1/subscriptions', { customer: 'gamma', plan: 'bulk', quantity: 4, start_date: iso(S) })).body;
    now = S + 15 * DAY;
    expect((await call('POST', `/v1/subscriptions/${b.id}/change`, { quantity: 12 })).body).toMatchObject({ quantity: 12 });
    now = S + 20 * DAY;
    expect((await call('POST', `/v1/subscriptions/${g.id}/change`, { quantity: 6 })).body).toMatchObject({ quantity: 6 });
    now = Date.UTC(year, 10, 2);
    await stack.billing.close(new Date(now));
    const september = async (id: string) => ((await call('GET', `/v1/invoices?subscription=${id}`)).body.data as { period_start: string; total: string; lines: { type: string; amount: string; description: string }[] }[]).find((i) => i.period_start === iso(S))!;
    const beta = await september(b.id);
    expect(beta.lines.map((l) => [l.type, l.amount])).toEqual([
      // 8 seats: 5 × 10 + 3 × 8 = 74.
      ['base_fee', '74.000000'],
      // 12 seats: 5 × 10 + 7 × 8 = 106; from the 16th, 15 of 30 days left: (106 − 74) × 15/30 = 16.
      ['proration', '16.000000'],
    ]);
    expect(beta.lines[0]!.description).toContain('Studio × 8 seats');
    expect(beta.total).toBe('90.00');
    const gamma = await september(g.id);
    expect(gamma.lines.map((l) => [l.type, l.amount])).toEqual([
      // 4 seats, all at the first tier's price: 40.
      ['base_fee', '40.000000'],
      // 6 seats, all at the second tier's: 42; from the 21st, 10 of 30 days left: (42 − 40) × 10/30 = 0.666666…, half-even at 6 places.
      ['proration', '0.666667'],
    ]);
    expect(gamma.total).toBe('40.67');
  });
});
