import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dec } from '../../core/money.js';
import { createRegistry } from '../../core/metrics.js';
import { period } from '../../catalog/periods.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { startStripeFake } from '../../stripe-fake/index.js';
import { testSync } from '../support/sync.js';
import { jsonRequest, startTestApi, testAggregator, type TestApi } from '../support/api.js';

/**
 * Taxes: rates by country and region, the customer's region picking its rate over the
 * country's, exempt customers paying none; exclusive, after discounts and credits; the tax line
 * reaching Stripe with the total exact.
 */
const DAY = 86_400_000;
const start = new Date(Math.floor((Date.now() - 40 * DAY) / DAY) * DAY);

let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let stack: RatingStack;
const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);

beforeAll(async () => {
  api = await startTestApi();
  t = await api.tenant('taxes');
  stack = createRatingStack(api.stores.config, api.stores, createRegistry());
  await call('POST', '/v1/plans', { code: 'us', name: 'US plan', currency: 'USD', interval: 'month', base_fee: '279.00' });
  await call('POST', '/v1/plans', { code: 'de', name: 'DE plan', currency: 'EUR', interval: 'month', base_fee: '100.00' });
});
afterAll(async () => {
  await stack?.pool.close();
  await api.stop();
});

describe('tax rates', () => {
  it('are created per country and region, once each', async () => {
    const ca = await call('POST', '/v1/tax_rates', { country: 'us', region: 'ca', percent: '8.25', name: 'CA sales tax' });
    expect(ca.status).toBe(201);
    expect(ca.body).toMatchObject({ country: 'US', region: 'CA', percent: '8.25', name: 'CA sales tax' });
    await call('POST', '/v1/tax_rates', { country: 'US', percent: '5', name: 'US default' });
    await call('POST', '/v1/tax_rates', { country: 'DE', percent: '19', name: 'MwSt' });
    expect((await call('POST', '/v1/tax_rates', { country: 'DE', percent: '7', name: 'again' })).body.error.code).toBe('TALLY_ERR_ALREADY_EXISTS');
    expect((await call('POST', '/v1/tax_rates', { country: 'XX', percent: '7', name: 'x' })).body.error.field).toBe('country');
    expect((await call('POST', '/v1/tax_rates', { country: 'FR', percent: '120', name: 'x' })).body.error.field).toBe('percent');
    expect((await call('GET', '/v1/tax_rates')).body.data).toHaveLength(3);
  });

  it('tax each invoice at its customer’s rate, after credits, and reach Stripe exactly', async () => {
    const customers = [
      { id: 'ca', currency: 'USD', country: 'US', region: 'CA', plan: 'us' },
      { id: 'ny', currency: 'USD', country: 'US', region: 'NY', plan: 'us' },
      { id: 'exempt', currency: 'USD', country: 'US', region: 'CA', plan: 'us', tax_exempt: true },
      { id: 'berlin', currency: 'EUR', country: 'DE', region: 'BE', plan: 'de' },
    ];
    for (const c of customers) {
      const { plan, ...body } = c;
      expect((await call('POST', '/v1/customers', { ...body, name: c.id })).status).toBe(201);
      await call('POST', '/v1/subscriptions', { customer: c.id, plan, start_date: start.toISOString() });
    }
    await call('POST', '/v1/customers/berlin/credits', { amount: '20.00' });
    await testAggregator(api).runOnce();
    await stack.billing.close(new Date(period(start, 'month', 0).end.getTime() + 3_600_000));
    const totals = async (id: string) => {
      const inv = (await call('GET', `/v1/invoices?customer=${id}`)).body.data[0] as { subtotal: string; credit: string; tax: string; total: string; lines: { type: string; description: string }[] };
      return [inv.subtotal, inv.credit, inv.tax, inv.total, inv.lines.find((l) => l.type === 'tax')?.description ?? null];
    };
    // 279 x 8.25 % = 23.0175 → 23.02; NY falls back to the US rate; exempt pays none; Berlin: (100 − 20) x 19 %.
    expect(await totals('ca')).toEqual(['279.00', '0.00', '23.02', '302.02', 'CA sales tax (8.25 %)']);
    expect(await totals('ny')).toEqual(['279.00', '0.00', '13.95', '292.95', 'US default (5 %)']);
    expect(await totals('exempt')).toEqual(['279.00', '0.00', '0.00', '279.00', null]);
    expect(await totals('berlin')).toEqual(['100.00', '20.00', '15.20', '95.20', 'MwSt (19 %)']);

    const fake = await startStripeFake({ writesPerSecond: 100_000 });
    try {
      const sync = testSync(api, fake.url, { maxAttempts: 3 });
      expect((await sync.runOnce()).failed).toBe(0);
      const { rows } = await api.stores.postgres.query<{ id: string; total: string }>('SELECT id, total::text AS total FROM invoices WHERE tenant_id = $1', [t.id]);
      for (const inv of rows) {
        const s = fake.state.invoices().find((x) => x.metadata.tally_invoice === inv.id)!;
        expect(s.total).toBe(Number(new Dec(inv.total).times(100).toFixed(0)));
      }
      expect(fake.state.invoiceItems().some((i) => i.description?.startsWith('CA sales tax') === true && i.amount === 2302)).toBe(true);
    } finally {
      await fake.close();
    }
  });
});
