import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../../core/metrics.js';
import { period } from '../../catalog/periods.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { Dec } from '../../core/money.js';
import { startStripeFake } from '../../stripe-fake/index.js';
import { testSync } from '../support/sync.js';
import { jsonRequest, startTestApi, testAggregator, type TestApi } from '../support/api.js';

/**
 * Coupons: created through the API with every rule checked, redeemed by subscriptions, and
 * applied by period close as discount lines — before credits, for the periods their duration
 * covers.
 */
const DAY = 86_400_000;
const start = new Date(Math.floor((Date.now() - 100 * DAY) / DAY) * DAY);

let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let stack: RatingStack;
const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);

interface Invoice {
  period_start: string;
  subtotal: string;
  discount: string;
  credit: string;
  total: string;
  lines: { type: string; amount: string; description: string }[];
}

async function subscribe(customer: string, plan: string, currency = 'USD'): Promise<string> {
  await call('POST', '/v1/customers', { id: customer, name: customer, currency });
  const r = await call('POST', '/v1/subscriptions', { customer, plan, start_date: start.toISOString() });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

async function invoicesOf(sub: string): Promise<Invoice[]> {
  return ((await call('GET', `/v1/invoices?subscription=${sub}`)).body.data as Invoice[]).sort((a, b) => a.period_start.localeCompare(b.period_start));
}

beforeAll(async () => {
  api = await startTestApi();
  t = await api.tenant('coupons');
  stack = createRatingStack(api.stores.config, api.stores, createRegistry());
  await call('POST', '/v1/plans', { code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', base_fee: '100.00' });
  await call('POST', '/v1/plans', { code: 'other', name: 'Other', currency: 'USD', interval: 'month', base_fee: '100.00' });
  await call('POST', '/v1/plans', { code: 'jp', name: 'Japan', currency: 'JPY', interval: 'month', base_fee: '1001' });
});
afterAll(async () => {
  await stack?.pool.close();
  await api.stop();
});

describe('coupons API', () => {
  it('creates and reads coupons', async () => {
    const r = await call('POST', '/v1/coupons', { code: 'WELCOME20', name: 'Welcome', percent_off: '20', duration: 'repeating', duration_periods: 2 });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ code: 'WELCOME20', percent_off: '20', amount_off: null, duration: 'repeating', duration_periods: 2, times_redeemed: 0 });
    expect((await call('GET', '/v1/coupons/WELCOME20')).body).toEqual(r.body);
    expect((await call('POST', '/v1/coupons', { code: 'WELCOME20', name: 'Again', percent_off: '5', duration: 'once' })).body.error.code).toBe('TALLY_ERR_ALREADY_EXISTS');
  });

  it.each([
    ['neither percent nor amount', { code: 'A', name: 'A', duration: 'once' }, 'percent_off'],
    ['both percent and amount', { code: 'A', name: 'A', duration: 'once', percent_off: '5', amount_off: '5', currency: 'USD' }, 'percent_off'],
    ['a percentage above 100', { code: 'A', name: 'A', duration: 'once', percent_off: '100.5' }, 'percent_off'],
    ['an amount without a currency', { code: 'A', name: 'A', duration: 'once', amount_off: '5' }, 'currency'],
    ['an amount finer than the currency', { code: 'A', name: 'A', duration: 'once', amount_off: '5.5', currency: 'JPY' }, 'amount_off'],
    ['repeating without periods', { code: 'A', name: 'A', duration: 'repeating', percent_off: '5' }, 'duration_periods'],
    ['a bad date', { code: 'A', name: 'A', duration: 'once', percent_off: '5', redeem_by: 'soon' }, 'redeem_by'],
  ])('refuses %s', async (_name, body, field) => {
    const r = await call('POST', '/v1/coupons', body);
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe(field);
  });
});

describe('redeeming and closing', () => {
  it('applies a repeating percentage to its periods only, before credits', async () => {
    const sub = await subscribe('acme', 'basic');
    // Redeemed "in" the first period: the coupon starts there.
    await api.stores.postgres.query('INSERT INTO coupon_redemptions (tenant_id, subscription_id, coupon_code, redeemed_at, actor) VALUES ($1, $2, $3, $4, $5)', [t.id, sub, 'WELCOME20', new Date(start.getTime() + DAY), 'test']);
    await call('POST', '/v1/customers/acme/credits', { amount: '10.00' });
    await testAggregator(api).runOnce();
    await stack.billing.close(new Date(period(start, 'month', 2).end.getTime() + 3_600_000));
    const inv = await invoicesOf(sub);
    expect(inv.map((i) => [i.subtotal, i.discount, i.credit, i.total])).toEqual([
      ['100.00', '20.00', '10.00', '70.00'],
      ['100.00', '20.00', '0.00', '80.00'],
      ['100.00', '0.00', '0.00', '100.00'],
    ]);
    expect(inv[0]!.lines.map((l) => [l.type, l.amount])).toEqual([
      ['base_fee', '100.000000'],
      ['discount', '-20.000000'],
      ['credit', '-10.000000'],
    ]);
    expect(inv[0]!.lines[1]!.description).toBe('Welcome (20 % off)');
  });

  it('redeems through the API with every rule checked', async () => {
    const sub = await subscribe('beta', 'basic');
    await call('POST', '/v1/coupons', { code: 'ONCE10', name: 'Ten off', amount_off: '10', currency: 'USD', duration: 'once', max_redemptions: 1 });
    await call('POST', '/v1/coupons', { code: 'OTHERONLY', name: 'Other only', percent_off: '50', duration: 'forever', plans: ['other'] });
    await call('POST', '/v1/coupons', { code: 'GONE', name: 'Gone', percent_off: '50', duration: 'forever', redeem_by: '2020-01-01T00:00:00Z' });
    await call('POST', '/v1/coupons', { code: 'EURO', name: 'Euro', amount_off: '5', currency: 'EUR', duration: 'once' });
    const ok = await call('POST', `/v1/subscriptions/${sub}/coupons`, { coupon: 'ONCE10' });
    expect(ok.status).toBe(201);
    expect(ok.body.coupon.times_redeemed).toBe(1);
    const other = await subscribe('gamma', 'basic');
    const cases: [string, string, number, string][] = [
      [sub, 'ONCE10', 409, 'TALLY_ERR_ALREADY_EXISTS'],
      [other, 'ONCE10', 409, 'TALLY_ERR_COUPON_EXHAUSTED'],
      [other, 'OTHERONLY', 400, 'TALLY_ERR_COUPON_NOT_APPLICABLE'],
      [other, 'GONE', 409, 'TALLY_ERR_COUPON_EXPIRED'],
      [other, 'EURO', 400, 'TALLY_ERR_CURRENCY_MISMATCH'],
      [other, 'NOPE', 400, 'TALLY_ERR_COUPON_NOT_FOUND'],
      ['sub_nope', 'ONCE10', 404, 'TALLY_ERR_NOT_FOUND'],
    ];
    for (const [s, coupon, status, code] of cases) {
      const r = await call('POST', `/v1/subscriptions/${s}/coupons`, { coupon });
      expect([r.status, r.body.error?.code], `${coupon} on ${s}`).toEqual([status, code]);
    }
  });

  it('rounds a percentage of a zero-decimal currency to whole yen, half to even', async () => {
    await call('POST', '/v1/coupons', { code: 'HALF', name: 'Half', percent_off: '50', duration: 'forever' });
    const sub = await subscribe('yen', 'jp', 'JPY');
    await api.stores.postgres.query('INSERT INTO coupon_redemptions (tenant_id, subscription_id, coupon_code, redeemed_at, actor) VALUES ($1, $2, $3, $4, $5)', [t.id, sub, 'HALF', start, 'test']);
    await stack.billing.close(new Date(period(start, 'month', 0).end.getTime() + 3_600_000));
    const [first] = await invoicesOf(sub);
    // 1001 x 50 % = 500.5 → 500 (to even).
    expect([first!.subtotal, first!.discount, first!.total]).toEqual(['1001', '500', '501']);
  });

  it('reach Stripe exactly: discount lines as negative items, totals equal to Tally’s', async () => {
    const fake = await startStripeFake({ writesPerSecond: 100_000 });
    try {
      expect((await testSync(api, fake.url, { maxAttempts: 3 }).runOnce()).failed).toBe(0);
      const { rows } = await api.stores.postgres.query<{ id: string; total: string; currency: string }>('SELECT id, total::text AS total, currency FROM invoices WHERE tenant_id = $1', [t.id]);
      for (const inv of rows) {
        const s = fake.state.invoices().find((x) => x.metadata.tally_invoice === inv.id)!;
        expect(s.total, inv.id).toBe(Number(new Dec(inv.total).times(inv.currency === 'JPY' ? 1 : 100).toFixed(0)));
      }
      expect(fake.state.invoiceItems().some((i) => i.description === 'Welcome (20 % off)' && i.amount === -2000)).toBe(true);
    } finally {
      await fake.close();
    }
  });
});
