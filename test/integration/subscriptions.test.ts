import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { periodAt } from '../../catalog/periods.js';
import { statusAt } from '../../catalog/subscriptions.js';
import { type TestApi, jsonRequest, startTestApi } from '../support/api.js';

describe('status at an instant', () => {
  const now = new Date('2026-11-22T00:00:00Z');
  const past = new Date('2026-11-01T00:00:00Z');
  const future = new Date('2026-12-01T00:00:00Z');
  it.each([
    ['no trial, nothing else', { trial_end: null, canceled_at: null, dunning: null }, 'active'],
    ['in trial', { trial_end: future, canceled_at: null, dunning: null }, 'trialing'],
    ['trial over', { trial_end: past, canceled_at: null, dunning: null }, 'active'],
    ['payment failed', { trial_end: null, canceled_at: null, dunning: 'past_due' }, 'past_due'],
    ['unpaid too long', { trial_end: null, canceled_at: null, dunning: 'suspended' }, 'suspended'],
    ['cancel scheduled at period end', { trial_end: null, canceled_at: future, dunning: null }, 'active'],
    ['canceled', { trial_end: null, canceled_at: past, dunning: 'past_due' }, 'canceled'],
    ['canceled exactly now', { trial_end: future, canceled_at: now, dunning: null }, 'canceled'],
  ] as const)('%s → %s', (_what, facts, status) => {
    expect(statusAt(facts, now)).toBe(status);
  });
});

let api: TestApi;
let t: { id: string; key: string; auth: Record<string, string> };
const call = (method: string, path: string, body?: unknown, auth = t.auth) => jsonRequest(api.url, auth, method, path, body);

beforeAll(async () => {
  api = await startTestApi();
  t = await api.tenant('subs');
  await call('POST', '/v1/customers', { id: 'acme', name: 'Acme', currency: 'USD' });
  await call('POST', '/v1/customers', { id: 'euro_co', name: 'Euro', currency: 'EUR' });
  for (const p of [
    { code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', base_fee: '49.00' },
    { code: 'pro', name: 'Pro', currency: 'USD', interval: 'month', base_fee: '199.00', trial_days: 14 },
    { code: 'annual', name: 'Annual', currency: 'USD', interval: 'year', base_fee: '990.00' },
    { code: 'eu', name: 'EU', currency: 'EUR', interval: 'month', base_fee: '39.00' },
  ]) {
    expect((await call('POST', '/v1/plans', p)).status).toBe(201);
  }
});
afterAll(async () => {
  await api.stop();
});

describe('subscriptions', () => {
  it('starts now on the latest plan version, trialing for the plan’s trial days', async () => {
    const before = Date.now();
    const r = await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'pro' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ id: expect.stringMatching(/^sub_/), customer: 'acme', plan: { code: 'pro', version: 1 }, status: 'trialing', cancel_at: null, canceled_at: null, pending_change: null });
    const start = Date.parse(r.body.start_date);
    expect(start).toBeGreaterThanOrEqual(before - 5);
    expect(Date.parse(r.body.trial_end) - start).toBe(14 * 86_400_000);
    expect((await call('GET', `/v1/subscriptions/${r.body.id}`)).body).toEqual(r.body);
  });

  it('a trial can be overridden, and a start date may be in the past (imports), anchoring the periods', async () => {
    const r = await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'pro', trial_days: 0, start_date: '2026-01-31T00:00:00Z' });
    expect(r.body.status).toBe('active');
    expect(r.body.trial_end).toBeNull();
    const p = periodAt(new Date('2026-01-31T00:00:00Z'), 'month', new Date());
    expect(r.body.current_period).toEqual({ start: p.start.toISOString(), end: p.end.toISOString() });
  });

  it.each([
    ['an unknown customer', { customer: 'nobody', plan: 'basic' }, 'TALLY_ERR_CUSTOMER_NOT_FOUND', 'customer'],
    ['an unknown plan', { customer: 'acme', plan: 'platinum' }, 'TALLY_ERR_PLAN_NOT_FOUND', 'plan'],
    ['a plan in another currency', { customer: 'euro_co', plan: 'basic' }, 'TALLY_ERR_CURRENCY_MISMATCH', 'plan'],
    ['a start date in the future', { customer: 'acme', plan: 'basic', start_date: '2099-01-01T00:00:00Z' }, 'TALLY_ERR_INVALID_VALUE', 'start_date'],
    ['a start date that is not a timestamp', { customer: 'acme', plan: 'basic', start_date: 'tomorrow' }, 'TALLY_ERR_INVALID_VALUE', 'start_date'],
    ['negative trial days', { customer: 'acme', plan: 'basic', trial_days: -1 }, 'TALLY_ERR_INVALID_VALUE', 'trial_days'],
    ['an unknown field', { customer: 'acme', plan: 'basic', coupon: 'X' }, 'TALLY_ERR_UNKNOWN_FIELD', 'coupon'],
  ])('refuses %s', async (_what, body, code, field) => {
    const before = (await call('GET', '/v1/subscriptions?limit=1000')).body.data.length;
    const r = await call('POST', '/v1/subscriptions', body);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code, field });
    expect((await call('GET', '/v1/subscriptions?limit=1000')).body.data.length).toBe(before);
  });

  it('keeps the plan version it was priced on when the plan changes', async () => {
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic' })).body;
    expect((await call('POST', '/v1/plans', { code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', base_fee: '59.00' })).body.version).toBe(2);
    expect((await call('GET', `/v1/subscriptions/${sub.id}`)).body.plan).toEqual({ code: 'basic', version: 1 });
    const fresh = (await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic' })).body;
    expect(fresh.plan).toEqual({ code: 'basic', version: 2 });
  });

  it('changes plan now, or schedules it for the period end (a later change replaces a scheduled one)', async () => {
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic', trial_days: 0 })).body;
    const scheduled = await call('POST', `/v1/subscriptions/${sub.id}/change`, { plan: 'pro', at: 'period_end', prorate: false });
    expect(scheduled.status).toBe(200);
    expect(scheduled.body.plan).toEqual({ code: 'basic', version: 2 });
    expect(scheduled.body.pending_change).toEqual({ plan: { code: 'pro', version: 1 }, quantity: 1, at: sub.current_period.end, prorate: false });
    const now = await call('POST', `/v1/subscriptions/${sub.id}/change`, { plan: 'pro' });
    expect(now.body.plan).toEqual({ code: 'pro', version: 1 });
    expect(now.body.pending_change).toBeNull();
    const refused = await call('POST', `/v1/subscriptions/${sub.id}/change`, { plan: 'annual' });
    expect(refused.status).toBe(400);
    expect(refused.body.error.field).toBe('plan');
    const mismatch = await call('POST', `/v1/subscriptions/${sub.id}/change`, { plan: 'eu' });
    expect(mismatch.body.error.code).toBe('TALLY_ERR_CURRENCY_MISMATCH');
  });

  it('cancels at period end (still active until then, idempotent), then now; a canceled one refuses everything', async () => {
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic', trial_days: 0 })).body;
    const atEnd = await call('POST', `/v1/subscriptions/${sub.id}/cancel`, { at_period_end: true });
    expect(atEnd.body).toMatchObject({ status: 'active', cancel_at: sub.current_period.end, canceled_at: null });
    expect((await call('POST', `/v1/subscriptions/${sub.id}/cancel`, { at_period_end: true })).body.cancel_at).toBe(sub.current_period.end);
    const now = await call('POST', `/v1/subscriptions/${sub.id}/cancel`, {});
    expect(now.body).toMatchObject({ status: 'canceled', cancel_at: null, canceled_at: expect.any(String) });
    const again = await call('POST', `/v1/subscriptions/${sub.id}/cancel`, {});
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_TRANSITION', field: 'id' });
    expect((await call('POST', `/v1/subscriptions/${sub.id}/change`, { plan: 'pro' })).body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_TRANSITION', field: 'id' });

    const trail = (await call('GET', `/v1/subscriptions/${sub.id}/audit`)).body.data as { action: string; actor: string; at: string }[];
    expect(trail.map((e) => e.action)).toEqual(['created', 'cancel_scheduled', 'canceled']);
    const keyId = t.key.split('_')[1];
    for (const e of trail) expect(e.actor).toBe(`api_key:${keyId}`);
  });

  it('records plan changes in the audit trail with from, to and when', async () => {
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic', trial_days: 0 })).body;
    await call('POST', `/v1/subscriptions/${sub.id}/change`, { plan: 'pro', prorate: true });
    const trail = (await call('GET', `/v1/subscriptions/${sub.id}/audit`)).body.data as { action: string; details: any }[];
    expect(trail[1]).toMatchObject({ action: 'plan_changed', details: { from: { plan: 'basic', version: 2 }, to: { plan: 'pro', version: 1 }, prorate: true } });
  });

  it('a customer with a live subscription cannot be deleted; once it is canceled, they can', async () => {
    await call('POST', '/v1/customers', { id: 'leaving', name: 'Leaving', currency: 'USD' });
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'leaving', plan: 'basic' })).body;
    const refused = await call('DELETE', '/v1/customers/leaving');
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('TALLY_ERR_INVALID_TRANSITION');
    await call('POST', `/v1/subscriptions/${sub.id}/cancel`, { at_period_end: true });
    expect((await call('DELETE', '/v1/customers/leaving')).status).toBe(409); // still live until the period ends
    await call('POST', `/v1/subscriptions/${sub.id}/cancel`, {});
    expect((await call('DELETE', '/v1/customers/leaving')).body).toEqual({ id: 'leaving', deleted: true });
  });

  it('lists, by customer and page by page', async () => {
    const all = (await call('GET', '/v1/subscriptions?limit=1000')).body.data as { id: string; customer: string }[];
    expect(all.length).toBeGreaterThan(3);
    const first = await call('GET', '/v1/subscriptions?limit=2');
    const next = await call('GET', `/v1/subscriptions?limit=1000&starting_after=${first.body.data[1].id}`);
    expect([...first.body.data, ...next.body.data].map((s: { id: string }) => s.id)).toEqual(all.map((s) => s.id));
    expect((await call('GET', '/v1/subscriptions?customer=euro_co')).body.data).toEqual([]);
  });

  it("another tenant's subscriptions are invisible on every route", async () => {
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic' })).body;
    const other = await api.tenant('other');
    for (const [method, path, body] of [
      ['GET', `/v1/subscriptions/${sub.id}`, undefined],
      ['POST', `/v1/subscriptions/${sub.id}/change`, { plan: 'pro' }],
      ['POST', `/v1/subscriptions/${sub.id}/cancel`, {}],
      ['GET', `/v1/subscriptions/${sub.id}/audit`, undefined],
    ] as const) {
      expect((await call(method, path, body, other.auth)).status, `${method} ${path}`).toBe(404);
    }
    expect((await call('GET', '/v1/subscriptions', undefined, other.auth)).body.data).toEqual([]);
    expect((await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic' }, other.auth)).body.error.code).toBe('TALLY_ERR_CUSTOMER_NOT_FOUND');
    expect((await call('GET', `/v1/subscriptions/${sub.id}`)).body.status).not.toBe('canceled');
  });
});
