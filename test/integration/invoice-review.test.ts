import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../../core/metrics.js';
import { createRatingStack } from '../../app/rating-stack.js';
import { period } from '../../catalog/periods.js';
import type { BillingSync } from '../../stripe/sync.js';
import { startStripeFake } from '../../stripe-fake/index.js';
import type { StripeFake } from '../../stripe-fake/api.js';
import { type TestApi, jsonRequest, startTestApi, testAggregator } from '../support/api.js';
import { testSync } from '../support/sync.js';

/**
 * TALLY_INVOICE_REVIEW: closed invoices wait as drafts (no number, nothing in Stripe, not
 * final) until finance approves them; approving numbers one and sends it to Stripe, which
 * collects it; a draft voided in review never takes a number, so the sequence has no gap.
 */
const SECRET = 'whsec_review_0123456789';
const DAY = 86_400_000;
const start = new Date(Math.floor((Date.now() - 40 * DAY) / DAY) * DAY);

let fake: StripeFake;
let api: TestApi;
let sync: BillingSync;
let t: { id: string; auth: Record<string, string> };

const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);
async function invoiceOf(customer: string): Promise<Record<string, any>> {
  const page = (await call('GET', `/v1/invoices?customer=${customer}`)).body as { data: Record<string, any>[] };
  return page.data[0]!;
}
const eventsOf = async (type: string) => ((await call('GET', '/v1/webhook_events?limit=500')).body.data as { type: string; data: { id: string } }[]).filter((e) => e.type === type).map((e) => e.data.id);

beforeAll(async () => {
  fake = await startStripeFake({ writesPerSecond: 100_000 });
  const env = { STRIPE_SECRET_KEY: 'sk_test_review', STRIPE_API_BASE: fake.url, STRIPE_WEBHOOK_SECRET: SECRET, TALLY_INVOICE_REVIEW: 'true' };
  api = await startTestApi({ env });
  fake.webhooks.configure({ url: `${api.url}/v1/stripe/webhooks`, secret: SECRET });
  t = await api.tenant('review');
  await call('POST', '/v1/plans', { code: 'pro', name: 'Pro', currency: 'USD', interval: 'month', base_fee: '20.00' });
  for (const c of ['keep', 'reject', 'third']) {
    await call('POST', '/v1/customers', { id: c, name: c, currency: 'USD', collection_method: 'send_invoice', days_until_due: 14 });
    await call('POST', '/v1/subscriptions', { customer: c, plan: 'pro', start_date: start.toISOString() });
  }
  await testAggregator(api).runOnce();
  const stack = createRatingStack(api.stores.config, api.stores, createRegistry());
  expect(api.stores.config.rater.invoiceReview).toBe(true);
  await stack.billing.close(new Date(period(start, 'month', 0).end.getTime() + 2 * 3_600_000));
  await stack.pool.close();
  sync = testSync(api, fake.url);
});
afterAll(async () => {
  await fake?.close();
  await api?.stop();
});

describe('invoice review', () => {
  it('closed invoices are drafts: no number, not in Stripe, not final', async () => {
    for (const c of ['keep', 'reject', 'third']) expect(await invoiceOf(c)).toMatchObject({ status: 'draft', number: null, total: '20.00' });
    expect((await sync.runOnce()).claimed).toBe(0);
    expect(fake.state.invoices()).toEqual([]);
    expect(await eventsOf('invoice.created')).toHaveLength(3);
    expect(await eventsOf('invoice.finalized')).toEqual([]);
    // Credit notes, payments and write-offs are for issued invoices.
    const draft = await invoiceOf('keep');
    expect((await call('POST', `/v1/invoices/${draft.id}/mark_paid`, { method: 'cheque' })).status).toBe(409);
    expect((await call('POST', `/v1/invoices/${draft.id}/credit_notes`, { amount: '1.00', reason: 'duplicate' })).status).toBe(409);
  });

  it('a draft rejected in review is voided without a number; approved ones are numbered without a gap, sent and collected', async () => {
    const rejected = await invoiceOf('reject');
    expect((await call('POST', `/v1/invoices/${rejected.id}/void`, { reason: 'wrong plan' })).body).toMatchObject({ status: 'void', number: null });
    const kept = await call('POST', `/v1/invoices/${(await invoiceOf('keep')).id}/approve`, {});
    expect(kept.status).toBe(200);
    expect(kept.body).toMatchObject({ status: 'open', number: expect.stringMatching(/-0001$/) });
    const third = await call('POST', `/v1/invoices/${(await invoiceOf('third')).id}/approve`, {});
    expect(third.body.number).toMatch(/-0002$/);
    expect((await call('POST', `/v1/invoices/${kept.body.id}/approve`, {})).status).toBe(200);
    expect((await sync.runOnce()).done).toBe(3);
    await fake.webhooks.idle();
    expect(fake.state.invoices().map((i) => [i.number, i.status, i.collection_method]).sort()).toEqual([
      [kept.body.number, 'open', 'send_invoice'],
      [third.body.number, 'open', 'send_invoice'],
    ]);
    expect((await eventsOf('invoice.finalized')).sort()).toEqual([kept.body.id, third.body.id].sort());
    expect((await invoiceOf('keep')).due_at).not.toBeNull();
  });
});
