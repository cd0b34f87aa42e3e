import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../../core/metrics.js';
import { period } from '../../catalog/periods.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { jsonRequest, startTestApi, type TestApi } from '../support/api.js';

/** Commitments: set through the API, applied by close as a minimum-spend top-up and a committed-use discount. */
const DAY = 86_400_000;
const start = new Date(Math.floor((Date.now() - 40 * DAY) / DAY) * DAY);

let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let stack: RatingStack;
let subId: string;
const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);

beforeAll(async () => {
  api = await startTestApi();
  t = await api.tenant('commitments');
  stack = createRatingStack(api.stores.config, api.stores, createRegistry());
  await call('POST', '/v1/plans', { code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', base_fee: '100.00' });
  await call('POST', '/v1/customers', { id: 'acme', name: 'Acme', currency: 'USD' });
  subId = (await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic', start_date: start.toISOString() })).body.id as string;
});
afterAll(async () => {
  await stack?.pool.close();
  await api.stop();
});

describe('commitments', () => {
  it('are set from the current period until a date, and read back', async () => {
    const until = new Date(Date.now() + 365 * DAY).toISOString();
    const r = await call('PUT', `/v1/subscriptions/${subId}/commitment`, { minimum_spend: '250.00', discount_percent: '20', until });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ subscription: subId, minimum_spend: '250', discount_percent: '20', starts_at: period(start, 'month', 1).start.toISOString(), ends_at: until });
    expect((await call('GET', `/v1/subscriptions/${subId}/commitment`)).body).toEqual(r.body);
  });

  it.each([
    ['nothing committed', { until: '2099-01-01T00:00:00Z' }, 'minimum_spend'],
    ['a discount above 100 %', { discount_percent: '101', until: '2099-01-01T00:00:00Z' }, 'discount_percent'],
    ['an end in the past', { minimum_spend: '10', until: '2020-01-01T00:00:00Z' }, 'until'],
    ['more decimals than the currency', { minimum_spend: '10.001', until: '2099-01-01T00:00:00Z' }, 'minimum_spend'],
    ['a minimum spend of zero (a 500 from the store before)', { minimum_spend: '0.00', discount_percent: '5', until: '2099-01-01T00:00:00Z' }, 'minimum_spend'],
  ])('refuse %s', async (_name, body, field) => {
    const r = await call('PUT', `/v1/subscriptions/${subId}/commitment`, body);
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe(field);
  });

  it('top up to the minimum spend, then take the committed-use discount, at close', async () => {
    // Made in the first period (set directly: the API starts a commitment in the current one).
    await api.stores.postgres.query('UPDATE subscription_commitments SET starts_at = $3 WHERE tenant_id = $1 AND subscription_id = $2', [t.id, subId, start]);
    await api.stores.postgres.query("UPDATE aggregator_state SET watermark = now() WHERE name = 'hourly'");
    await stack.billing.close(new Date(period(start, 'month', 0).end.getTime() + 3_600_000));
    const inv = (await call('GET', `/v1/invoices?subscription=${subId}`)).body.data[0] as { subtotal: string; discount: string; total: string; lines: { type: string; amount: string }[] };
    expect(inv.lines.map((l) => [l.type, l.amount])).toEqual([
      ['base_fee', '100.000000'],
      ['minimum', '150.000000'],
      ['discount', '-50.000000'],
    ]);
    expect([inv.subtotal, inv.discount, inv.total]).toEqual(['250.00', '50.00', '200.00']);
  });

  it('set again after a period ended but before it is closed, leave that period the commitment that covered it', async () => {
    await call('POST', '/v1/customers', { id: 'again', name: 'Again', currency: 'USD' });
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'again', plan: 'basic', start_date: start.toISOString() })).body.id as string;
    const until = new Date(Date.now() + 365 * DAY).toISOString();
    await call('PUT', `/v1/subscriptions/${sub}/commitment`, { minimum_spend: '500.00', until });
    // Made in the first period (set directly: the API starts a commitment in the current one).
    await api.stores.postgres.query('UPDATE subscription_commitments SET starts_at = $3 WHERE tenant_id = $1 AND subscription_id = $2', [t.id, sub, start]);
    // The first period has ended, not closed yet; the commitment is set again, now with a discount.
    const replaced = await call('PUT', `/v1/subscriptions/${sub}/commitment`, { minimum_spend: '500.00', discount_percent: '10', until });
    expect(replaced.body).toMatchObject({ discount_percent: '10', starts_at: period(start, 'month', 1).start.toISOString() });
    expect((await call('GET', `/v1/subscriptions/${sub}/commitment`)).body).toEqual(replaced.body);
    await stack.billing.close(new Date(period(start, 'month', 0).end.getTime() + 3_600_000));
    const inv = (await call('GET', `/v1/invoices?subscription=${sub}`)).body.data[0] as { total: string; lines: { type: string; amount: string }[] };
    expect(inv.lines.map((l) => [l.type, l.amount])).toEqual([
      ['base_fee', '100.000000'],
      ['minimum', '400.000000'],
    ]);
    expect(inv.total).toBe('500.00');
    // The running period has the new one.
    const upcoming = (await call('GET', `/v1/subscriptions/${sub}/upcoming`)).body as { lines: { type: string; amount: string }[] };
    expect(upcoming.lines.map((l) => [l.type, l.amount])).toEqual([
      ['base_fee', '100.000000'],
      ['minimum', '400.000000'],
      ['discount', '-50.000000'],
    ]);
  });
});
