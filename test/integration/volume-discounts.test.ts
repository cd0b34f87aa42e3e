import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dec } from '../../core/money.js';
import { createRegistry } from '../../core/metrics.js';
import { period } from '../../catalog/periods.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { startStripeFake } from '../../stripe-fake/index.js';
import { testSync } from '../support/sync.js';
import { jsonRequest, startTestApi, type TestApi } from '../support/api.js';

/**
 * Volume discounts: a tenant's tiers by the number of subscriptions a customer holds in an
 * invoice's period, a percentage off after the committed-use discount and before coupons.
 */
const DAY = 86_400_000;
const start = new Date(Math.floor((Date.now() - 40 * DAY) / DAY) * DAY);

let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let stack: RatingStack;
const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);

interface Invoice {
  customer: string;
  subtotal: string;
  discount: string;
  total: string;
  lines: { type: string; amount: string; description: string }[];
}

beforeAll(async () => {
  api = await startTestApi();
  t = await api.tenant('volume');
  stack = createRatingStack(api.stores.config, api.stores, createRegistry());
  await call('POST', '/v1/plans', { code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', base_fee: '100.00' });
  await call('POST', '/v1/plans', { code: 'yen', name: 'Yen', currency: 'JPY', interval: 'month', base_fee: '999' });
});
afterAll(async () => {
  await stack?.pool.close();
  await api.stop();
});

describe('volume discount API', () => {
  it('sets the tiers, reads them back, and keeps each tenant’s own', async () => {
    const r = await call('PUT', '/v1/volume_discount', { tiers: [{ min_subscriptions: 2, percent_off: '5' }, { min_subscriptions: 3, percent_off: '12.5' }] });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ tiers: [{ min_subscriptions: 2, percent_off: '5' }, { min_subscriptions: 3, percent_off: '12.5' }] });
    expect((await call('GET', '/v1/volume_discount')).body).toEqual(r.body);
    const other = await api.tenant('volume-other');
    expect((await jsonRequest(api.url, other.auth, 'GET', '/v1/volume_discount')).body).toEqual({ tiers: [] });
  });

  it.each([
    ['tiers out of order', { tiers: [{ min_subscriptions: 3, percent_off: '5' }, { min_subscriptions: 2, percent_off: '10' }] }, 'TALLY_ERR_TIERS_NOT_ASCENDING', 'tiers[1].min_subscriptions'],
    ['a percentage of zero', { tiers: [{ min_subscriptions: 2, percent_off: '0' }] }, 'TALLY_ERR_INVALID_VALUE', 'tiers[0].percent_off'],
    ['a percentage above 100', { tiers: [{ min_subscriptions: 2, percent_off: '100.5' }] }, 'TALLY_ERR_INVALID_VALUE', 'tiers[0].percent_off'],
    ['a percentage as a number', { tiers: [{ min_subscriptions: 2, percent_off: 5 }] }, 'TALLY_ERR_INVALID_TYPE', 'tiers[0].percent_off'],
    ['a fractional count', { tiers: [{ min_subscriptions: 2.5, percent_off: '5' }] }, 'TALLY_ERR_INVALID_TYPE', 'tiers[0].min_subscriptions'],
  ])('refuses %s and keeps the schedule', async (_name, body, code, field) => {
    const r = await call('PUT', '/v1/volume_discount', body);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code, field });
    expect((await call('GET', '/v1/volume_discount')).body.tiers).toHaveLength(2);
  });
});

describe('volume discount at close', () => {
  it('counts the customer’s subscriptions in each period and applies the highest tier reached, before coupons', async () => {
    const p0 = period(start, 'month', 0);
    await call('POST', '/v1/customers', { id: 'big', name: 'Big', currency: 'USD' });
    await call('POST', '/v1/customers', { id: 'small', name: 'Small', currency: 'USD' });
    await call('POST', '/v1/customers', { id: 'jp', name: 'JP', currency: 'JPY' });
    const subs: string[] = [];
    for (let i = 0; i < 3; i++) subs.push((await call('POST', '/v1/subscriptions', { customer: 'big', plan: 'basic', start_date: start.toISOString() })).body.id as string);
    // A subscription that starts after the period ends does not count for it.
    await call('POST', '/v1/subscriptions', { customer: 'big', plan: 'basic', start_date: new Date(p0.end.getTime() + DAY).toISOString() });
    await call('POST', '/v1/subscriptions', { customer: 'small', plan: 'basic', start_date: start.toISOString() });
    for (let i = 0; i < 2; i++) await call('POST', '/v1/subscriptions', { customer: 'jp', plan: 'yen', start_date: start.toISOString() });
    await call('POST', '/v1/coupons', { code: 'TEN', name: 'Ten off', amount_off: '10.00', currency: 'USD', duration: 'forever' });
    expect((await call('POST', `/v1/subscriptions/${subs[0]}/coupons`, { coupon: 'TEN' })).status).toBe(201);
    // Redeemed now, the coupon would start in the current period: date it back to the first.
    await api.stores.postgres.query('UPDATE coupon_redemptions SET redeemed_at = $2 WHERE tenant_id = $1', [t.id, start]);

    await api.stores.postgres.query("UPDATE aggregator_state SET watermark = now() WHERE name = 'hourly'");
    expect((await stack.billing.close(new Date(p0.end.getTime() + 3_600_000))).invoices).toBe(6);
    const all = (await call('GET', '/v1/invoices?limit=100')).body.data as Invoice[];
    const big = all.filter((i) => i.customer === 'big');
    expect(big).toHaveLength(3);
    for (const inv of big) expect(inv.lines.find((l) => l.type === 'discount')).toMatchObject({ amount: '-12.500000', description: 'Volume discount for 3 subscriptions (12.5 % off)' });
    // The coupon comes after: 100.00 − 12.50 − 10.00.
    expect(big.map((i) => i.total).sort()).toEqual(['77.50', '87.50', '87.50']);
    const one = all.find((i) => i.customer === 'small')!;
    expect([one.discount, one.total]).toEqual(['0.00', '100.00']);
    // JPY: 5 % of 999 = 49.95, rounded half-even to whole yen: 50.
    const jp = all.filter((i) => i.customer === 'jp');
    expect(jp.map((i) => [i.discount, i.total])).toEqual([
      ['50', '949'],
      ['50', '949'],
    ]);
  });

  it('reaches Stripe exactly: the discount as a negative item, totals equal to Tally’s', async () => {
    const fake = await startStripeFake({ writesPerSecond: 100_000 });
    try {
      expect((await testSync(api, fake.url, { maxAttempts: 3 }).runOnce()).failed).toBe(0);
      const { rows } = await api.stores.postgres.query<{ id: string; total: string; currency: string }>('SELECT id, total::text AS total, currency FROM invoices WHERE tenant_id = $1', [t.id]);
      const inStripe = fake.state.invoices();
      expect(inStripe).toHaveLength(rows.length);
      for (const inv of rows) {
        const s = inStripe.find((x) => x.metadata.tally_invoice === inv.id)!;
        expect(s.total, inv.id).toBe(Number(new Dec(inv.total).times(inv.currency === 'JPY' ? 1 : 100).toFixed(0)));
        expect(s.items.some((i) => i.amount < 0), inv.id).toBe(inv.currency === 'JPY' || new Dec(inv.total).lt(100));
      }
    } finally {
      await fake.close();
    }
  });

  it('stops when the schedule is removed', async () => {
    expect((await call('PUT', '/v1/volume_discount', { tiers: [] })).body).toEqual({ tiers: [] });
    const up = (await call('GET', `/v1/subscriptions/${(await call('GET', '/v1/subscriptions?customer=big')).body.data[0].id}/upcoming`)).body as Invoice;
    expect(up.lines.some((l) => l.type === 'discount' && l.description.startsWith('Volume'))).toBe(false);
  });
});
