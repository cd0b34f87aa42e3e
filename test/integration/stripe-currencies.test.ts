import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../../core/metrics.js';
import { period } from '../../catalog/periods.js';
import { createRatingStack } from '../../app/rating-stack.js';
import { startStripeFake, type StripeFake } from '../../stripe-fake/index.js';
import { testSync } from '../support/sync.js';
import { jsonRequest, startTestApi, testAggregator, type TestApi } from '../support/api.js';

/**
 * Currencies whose decimals in Stripe's API are not ISO 4217's (stripe/currency.ts):
 * an ISK invoice, in whole krónur in Tally, reaches Stripe in hundredths; an MGA invoice, in
 * ariary and hundredths in Tally, reaches Stripe only when its total is whole.
 */
const DAY = 86_400_000;
// A month that has ended, recent enough for its events to be accepted (TALLY_EVENT_MAX_AGE_SECONDS).
const start = new Date(Math.floor((Date.now() - 33 * DAY) / DAY) * DAY);

let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let fake: StripeFake;
const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);

beforeAll(async () => {
  fake = await startStripeFake({ writesPerSecond: 100_000 });
  api = await startTestApi();
  t = await api.tenant('currencies');
  await call('POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum' });
  const plans = [
    { code: 'isk', currency: 'ISK', base_fee: '4990', charges: [{ meter: 'api_calls', model: 'per_unit', unit_price: '0.37' }] },
    { code: 'mga-whole', currency: 'MGA', base_fee: '10000.00' },
    { code: 'mga-cents', currency: 'MGA', base_fee: '1234.56' },
  ];
  for (const p of plans) {
    expect((await call('POST', '/v1/plans', { name: p.code, interval: 'month', ...p })).status).toBe(201);
    expect((await call('POST', '/v1/customers', { id: p.code, name: p.code, currency: p.currency })).status).toBe(201);
    expect((await call('POST', '/v1/subscriptions', { customer: p.code, plan: p.code, start_date: start.toISOString() })).status).toBe(201);
  }
  // 70 calls at 0.37 krónur: 25.90.
  for (let i = 0; i < 10; i++) {
    const r = await call('POST', '/v1/events', { id: `isk${i}`, customer: 'isk', meter: 'api_calls', value: '7', timestamp: new Date(start.getTime() + DAY + i * 3_600_000).toISOString() });
    expect(r.body).toMatchObject({ accepted: 1 });
  }
  await testAggregator(api).runOnce();
  const stack = createRatingStack({ ...api.stores.config, stripe: { ...api.stores.config.stripe, secretKey: 'sk_test_currencies' } }, api.stores, createRegistry());
  expect((await stack.billing.close(new Date(period(start, 'month', 0).end.getTime() + 3_600_000))).invoices).toBe(3);
  await stack.pool.close();
  await testSync(api, fake.url, { maxAttempts: 3 }).runOnce();
});
afterAll(async () => {
  await fake?.close();
  await api?.stop();
});

async function invoiceOf(customer: string): Promise<{ id: string; total: string; lines: { amount: string }[] }> {
  const list = (await call('GET', `/v1/invoices?customer=${customer}`)).body.data as { id: string; total: string; lines: { amount: string }[] }[];
  expect(list).toHaveLength(1);
  return list[0]!;
}

describe('Stripe amounts in currencies whose decimals differ from ISO 4217', () => {
  it('ISK: whole krónur in Tally become hundredths in Stripe, each item a whole króna', async () => {
    const inv = await invoiceOf('isk');
    // 4990 + 25.90, rounded half-even to whole krónur.
    expect(inv.total).toBe('5016');
    const s = fake.state.invoices().find((x) => x.metadata.tally_invoice === inv.id)!;
    expect(s).toMatchObject({ currency: 'isk', status: 'open', total: 501_600 });
    // The base fee and the usage line (25.90 gets the króna left over to reach the total).
    expect(s.items.map((i) => i.amount)).toEqual([499_000, 2_600]);
  });

  it('MGA: a whole total reaches Stripe as whole ariary', async () => {
    const inv = await invoiceOf('mga-whole');
    expect(inv.total).toBe('10000.00');
    const s = fake.state.invoices().find((x) => x.metadata.tally_invoice === inv.id)!;
    expect(s).toMatchObject({ currency: 'mga', status: 'open', total: 10_000 });
  });

  it('MGA: a total with fractions of an ariary is refused before anything is written, and kept with its reason', async () => {
    const inv = await invoiceOf('mga-cents');
    expect(inv.total).toBe('1234.56');
    expect(fake.state.invoices().some((x) => x.metadata.tally_invoice === inv.id)).toBe(false);
    expect(fake.state.customers().some((c) => c.metadata.tally_customer === 'mga-cents')).toBe(false);
    const { rows } = await api.stores.postgres.query<{ state: string; last_error: string }>("SELECT state, last_error FROM stripe_outbox WHERE tenant_id = $1 AND ref = $2", [t.id, inv.id]);
    expect(rows).toEqual([{ state: 'failed', last_error: expect.stringMatching(/Stripe takes MGA in whole units only; invoice .* totals 1234\.56/) }]);
  });
});
