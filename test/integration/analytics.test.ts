import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonRequest, startTestApi, type TestApi } from '../support/api.js';

/**
 * Revenue analytics through the HTTP API, on subscriptions with known dates (set in Postgres
 * where the API only acts "now": plan changes and cancellations) and invoices written
 * directly. Every figure below is computed by hand in the comments.
 *
 * Tenant "analytics", all 2025, T0 = 03-01T00:00Z, T1 = 06-01T00:00Z:
 *
 * | customer | subscription(s)                                                  | MRR at T0 | MRR at T1  |
 * | -------- | ---------------------------------------------------------------- | --------- | ---------- |
 * | alpha    | starter from 01-01; pro from 05-15 (a second subscription)        | 49        | 248        |
 * | bravo    | starter from 01-15, changed to pro 04-10                          | 49        | 199        |
 * | charlie  | pro from 02-01, changed to starter 05-01                          | 199       | 49         |
 * | delta    | pro from 01-10, canceled 04-20                                    | 199       | 0          |
 * | echo     | annual (1000.00 a year) from 04-05                                | 0         | 83.333…    |
 * | foxtrot  | starter from 05-20 with a 14-day trial (ends 06-03)               | 0         | 0          |
 * | golf     | starter from 02-10 with a 30-day trial (ends 03-12)               | 0         | 49         |
 * | hotel    | free (0.00) from 01-01                                            | 0         | 0          |
 * | india    | starter from 01-05, canceled exactly at T1                        | 49        | 0          |
 * | juliet   | pro from exactly T0                                               | 199       | 199        |
 * | kilo     | JPY yen (5000 a month) from 01-01                                 | 5000      | 5000       |
 * | lima     | JPY yen_year (10000 a year) from 04-01                            | 0         | 833.33…    |
 * | mike     | BHD bhd_year (100 a year) from 01-01                              | 8.333…    | 8.333…     |
 * | november | EUR eur_free (0) from 01-01                                       | 0         | 0          |
 * | oscar    | starter version 2 (59.00) from 05-25                              | 0         | 59         |
 *
 * starter is 49.00 in version 1; version 2, at 59.00, is posted after all the others have
 * subscribed or changed to it, and they keep version 1. pro is 199.00 plus a usage charge
 * (not in MRR). All monthly unless named yearly.
 */
const T0 = '2025-03-01T00:00:00.000Z';
const T1 = '2025-06-01T00:00:00.000Z';

let api: TestApi;
let t: { id: string; auth: Record<string, string> };
const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);
const get = (path: string) => call('GET', path);
const q = (params: Record<string, string>) => new URLSearchParams(params).toString();
const subs: Record<string, string> = {};

async function ok(method: string, path: string, body: unknown, status = 201): Promise<any> {
  const r = await call(method, path, body);
  if (r.status !== status) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}
async function subscribe(name: string, customer: string, plan: string, start: string, trialDays = 0): Promise<string> {
  const id = (await ok('POST', '/v1/subscriptions', { customer, plan, start_date: start, trial_days: trialDays })).id as string;
  subs[name] = id;
  return id;
}
/** A plan change through the API (it takes effect now), then dated back to `at`. */
async function changePlan(sub: string, plan: string, at: string): Promise<void> {
  await ok('POST', `/v1/subscriptions/${sub}/change`, { plan }, 200);
  const r = await api.stores.postgres.query('UPDATE subscription_plans SET effective_from = $4 WHERE tenant_id = $1 AND subscription_id = $2 AND plan_code = $3 AND effective_from > $4', [t.id, sub, plan, at]);
  expect(r.rowCount).toBe(1);
}
/** A cancellation through the API (now), then dated back to `at`. */
async function cancel(sub: string, at: string): Promise<void> {
  await ok('POST', `/v1/subscriptions/${sub}/cancel`, {}, 200);
  await api.stores.postgres.query('UPDATE subscriptions SET canceled_at = $3 WHERE tenant_id = $1 AND id = $2', [t.id, sub, at]);
}
let invoiceSeq = 0;
async function invoice(tenant: string, sub: string, customer: string, currency: string, start: string, end: string, subtotal: string, discount = '0', status = 'open'): Promise<void> {
  await api.stores.postgres.query(
    `INSERT INTO invoices (tenant_id, id, subscription_id, customer_id, currency, period_start, period_end, status, subtotal, discount, tax, total, closed_as_of)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::numeric, $10::numeric, 0, $9::numeric - $10::numeric, $7)`,
    [tenant, `in_test_${++invoiceSeq}`, sub, customer, currency, start, end, status, subtotal, discount],
  );
}

beforeAll(async () => {
  api = await startTestApi();
  t = await api.tenant('analytics');
  await ok('POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum' });
  const plan = (code: string, currency: string, interval: string, base_fee: string, extra: object = {}) => ok('POST', '/v1/plans', { code, name: code, currency, interval, base_fee, ...extra });
  await plan('starter', 'USD', 'month', '49.00');
  await plan('pro', 'USD', 'month', '199.00', { charges: [{ meter: 'api_calls', model: 'per_unit', unit_price: '0.001' }] });
  await plan('annual', 'USD', 'year', '1000.00');
  await plan('free', 'USD', 'month', '0');
  await plan('yen', 'JPY', 'month', '5000');
  await plan('yen_year', 'JPY', 'year', '10000');
  await plan('bhd_year', 'BHD', 'year', '100');
  await plan('eur_free', 'EUR', 'month', '0');
  const customers: [string, string][] = [
    ['alpha', 'USD'], ['bravo', 'USD'], ['charlie', 'USD'], ['delta', 'USD'], ['echo', 'USD'], ['foxtrot', 'USD'], ['golf', 'USD'],
    ['hotel', 'USD'], ['india', 'USD'], ['juliet', 'USD'], ['kilo', 'JPY'], ['lima', 'JPY'], ['mike', 'BHD'], ['november', 'EUR'],
  ];
  for (const [id, currency] of customers) await ok('POST', '/v1/customers', { id, name: id, currency });

  await subscribe('alpha', 'alpha', 'starter', '2025-01-01T00:00:00Z');
  await subscribe('alpha2', 'alpha', 'pro', '2025-05-15T00:00:00Z');
  await changePlan(await subscribe('bravo', 'bravo', 'starter', '2025-01-15T00:00:00Z'), 'pro', '2025-04-10T00:00:00Z');
  await changePlan(await subscribe('charlie', 'charlie', 'pro', '2025-02-01T00:00:00Z'), 'starter', '2025-05-01T00:00:00Z');
  await cancel(await subscribe('delta', 'delta', 'pro', '2025-01-10T00:00:00Z'), '2025-04-20T00:00:00Z');
  await subscribe('echo', 'echo', 'annual', '2025-04-05T00:00:00Z');
  await subscribe('foxtrot', 'foxtrot', 'starter', '2025-05-20T00:00:00Z', 14);
  await subscribe('golf', 'golf', 'starter', '2025-02-10T00:00:00Z', 30);
  await subscribe('hotel', 'hotel', 'free', '2025-01-01T00:00:00Z');
  await cancel(await subscribe('india', 'india', 'starter', '2025-01-05T00:00:00Z'), T1);
  await subscribe('juliet', 'juliet', 'pro', T0);
  await subscribe('kilo', 'kilo', 'yen', '2025-01-01T00:00:00Z');
  await subscribe('lima', 'lima', 'yen_year', '2025-04-01T00:00:00Z');
  await subscribe('mike', 'mike', 'bhd_year', '2025-01-01T00:00:00Z');
  await subscribe('november', 'november', 'eur_free', '2025-01-01T00:00:00Z');
  expect((await ok('POST', '/v1/plans', { code: 'starter', name: 'starter', currency: 'USD', interval: 'month', base_fee: '59.00' })).version).toBe(2);
  await ok('POST', '/v1/customers', { id: 'oscar', name: 'oscar', currency: 'USD' });
  await subscribe('oscar', 'oscar', 'starter', '2025-05-25T00:00:00Z');
});
afterAll(async () => {
  await api.stop();
});

// BHD, EUR and JPY do not move before lima starts (04-01).
const BHD = { currency: 'BHD', mrr: '8.333', arr: '100.000', customers: 1, arpu: '8.333' };
const EUR = { currency: 'EUR', mrr: '0.00', arr: '0.00', customers: 0, arpu: null };
const JPY_T0 = { currency: 'JPY', mrr: '5000', arr: '60000', customers: 1, arpu: '5000' };

describe('GET /v1/analytics/mrr', () => {
  it.each([
    [
      // USD: alpha 49 + bravo 49 + charlie 199 + delta 199 + india 49 + juliet 199 (starting exactly now) = 744;
      // golf is in its trial, hotel free; 6 customers, ARPU 124, ARR 8928.
      'at T0',
      T0,
      [BHD, EUR, JPY_T0, { currency: 'USD', mrr: '744.00', arr: '8928.00', customers: 6, arpu: '124.00' }],
    ],
    [
      // USD: alpha 248 + bravo 199 + charlie 49 + echo 83.333… + golf 49 + juliet 199 + oscar 59
      // = 886.333… → 886.33; ARR 10636.00; 7 customers; ARPU 126.619… → 126.62. delta canceled,
      // india canceled exactly now, foxtrot in its trial.
      // JPY: 5000 + 833.33… = 5833.33… → 5833, ARR 70000, ARPU 2916.66… → 2917.
      'at T1',
      T1,
      [BHD, EUR, { currency: 'JPY', mrr: '5833', arr: '70000', customers: 2, arpu: '2917' }, { currency: 'USD', mrr: '886.33', arr: '10636.00', customers: 7, arpu: '126.62' }],
    ],
    [
      // golf's trial ends exactly now: 744 + 49 = 793, 7 customers, ARPU 113.2857… → 113.29, ARR 9516.
      'when a trial ends',
      '2025-03-12T00:00:00.000Z',
      [BHD, EUR, JPY_T0, { currency: 'USD', mrr: '793.00', arr: '9516.00', customers: 7, arpu: '113.29' }],
    ],
    ['a millisecond before the trial ends, as at T0', '2025-03-11T23:59:59.999Z', [BHD, EUR, JPY_T0, { currency: 'USD', mrr: '744.00', arr: '8928.00', customers: 6, arpu: '124.00' }]],
    [
      // charlie's downgrade to starter takes effect exactly now; alpha's pro has not started:
      // alpha 49 + bravo 199 + charlie 49 + echo 83.333… + golf 49 + india 49 + juliet 199 = 677.333… → 677.33,
      // ARR 8128, 7 customers, ARPU 96.7619… → 96.76.
      'at a plan change',
      '2025-05-01T00:00:00.000Z',
      [BHD, EUR, { currency: 'JPY', mrr: '5833', arr: '70000', customers: 2, arpu: '2917' }, { currency: 'USD', mrr: '677.33', arr: '8128.00', customers: 7, arpu: '96.76' }],
    ],
    ['before anything started: no entries', '2024-12-31T23:59:59.999Z', []],
  ])('%s', async (_what, at, data) => {
    const r = await get(`/v1/analytics/mrr?${q({ at })}`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ at, data });
  });

  it('reads a time zone offset as the instant it names', async () => {
    const r = await get(`/v1/analytics/mrr?${q({ at: '2025-06-01T02:00:00+02:00' })}`);
    expect(r.body.at).toBe(T1);
    expect(r.body.data).toEqual((await get(`/v1/analytics/mrr?${q({ at: T1 })}`)).body.data);
  });

  it('defaults at to now', async () => {
    const r = await get('/v1/analytics/mrr');
    expect(r.status).toBe(200);
    expect(Math.abs(Date.parse(r.body.at as string) - Date.now())).toBeLessThan(60_000);
    expect(r.body.data).toEqual((await get(`/v1/analytics/mrr?${q({ at: r.body.at as string })}`)).body.data);
    // By now foxtrot's trial is over: alpha 248 + bravo 199 + charlie 49 + echo 83.333… + foxtrot 49
    // + golf 49 + juliet 199 + oscar 59 = 935.333…, ARR 11224, ARPU 935.333… ÷ 8 = 116.916… → 116.92.
    expect((r.body.data as { currency: string }[]).find((d) => d.currency === 'USD')).toEqual({ currency: 'USD', mrr: '935.33', arr: '11224.00', customers: 8, arpu: '116.92' });
  });
});

describe('GET /v1/analytics/mrr_movements', () => {
  it('classifies each customer’s change from T0 to T1', async () => {
    const r = await get(`/v1/analytics/mrr_movements?${q({ from: T0, to: T1 })}`);
    expect(r.status).toBe(200);
    // USD: new = echo 83.333… + golf 49 + oscar 59 = 191.333… → 191.33; expansion = alpha 199 +
    // bravo 150 = 349; contraction = charlie 150; churned = delta 199 + india 49 = 248;
    // 744 + 191.333… + 349 − 150 − 248 = 886.333…; churn 2 of 6 = 0.3333.
    // JPY: lima is new, 833.33… → 833. EUR: nobody paying, so no churn rate.
    expect(r.body).toEqual({
      from: T0,
      to: T1,
      data: [
        { currency: 'BHD', starting_mrr: '8.333', new: '0.000', expansion: '0.000', contraction: '0.000', churned: '0.000', ending_mrr: '8.333', customers_at_start: 1, churned_customers: 0, churn_rate: '0.0000' },
        { currency: 'EUR', starting_mrr: '0.00', new: '0.00', expansion: '0.00', contraction: '0.00', churned: '0.00', ending_mrr: '0.00', customers_at_start: 0, churned_customers: 0, churn_rate: null },
        { currency: 'JPY', starting_mrr: '5000', new: '833', expansion: '0', contraction: '0', churned: '0', ending_mrr: '5833', customers_at_start: 1, churned_customers: 0, churn_rate: '0.0000' },
        { currency: 'USD', starting_mrr: '744.00', new: '191.33', expansion: '349.00', contraction: '150.00', churned: '248.00', ending_mrr: '886.33', customers_at_start: 6, churned_customers: 2, churn_rate: '0.3333' },
      ],
    });
  });

  it('starts and ends where /mrr is at from and to', async () => {
    const ranges = [
      [T0, T1],
      ['2025-03-12T00:00:00Z', '2025-05-01T00:00:00Z'],
      ['2024-06-01T00:00:00Z', T0],
    ] as const;
    // A currency missing from /mrr at an instant has nothing there: its figure is all zeros.
    const zero = (figure: string) => figure.replace(/\d/g, '0');
    for (const [from, to] of ranges) {
      const m = (await get(`/v1/analytics/mrr_movements?${q({ from, to })}`)).body.data as { currency: string; starting_mrr: string; ending_mrr: string }[];
      const atFrom = (await get(`/v1/analytics/mrr?${q({ at: from })}`)).body.data as { currency: string; mrr: string }[];
      const atTo = (await get(`/v1/analytics/mrr?${q({ at: to })}`)).body.data as { currency: string; mrr: string }[];
      for (const row of m) {
        expect(row.starting_mrr, `${from} ${row.currency}`).toBe(atFrom.find((x) => x.currency === row.currency)?.mrr ?? zero(row.starting_mrr));
        expect(row.ending_mrr, `${to} ${row.currency}`).toBe(atTo.find((x) => x.currency === row.currency)?.mrr ?? zero(row.ending_mrr));
      }
    }
  });
});

describe('GET /v1/analytics/revenue_by_plan', () => {
  beforeAll(async () => {
    const usd = (name: string, customer: string, start: string, end: string, subtotal: string, discount?: string, status?: string) => invoice(t.id, subs[name]!, customer, 'USD', start, end, subtotal, discount, status);
    // bravo: starter until 04-10, then pro.
    await usd('bravo', 'bravo', '2025-02-15T00:00:00Z', '2025-03-15T00:00:00Z', '49.00', '4.90'); // starter 44.10
    await usd('bravo', 'bravo', '2025-03-15T00:00:00Z', '2025-04-15T00:00:00Z', '250.50'); // pro (in force at the period's end)
    // charlie: pro until exactly 05-01, then starter.
    await usd('charlie', 'charlie', '2025-04-01T00:00:00Z', '2025-05-01T00:00:00Z', '199.00'); // pro: its last instant is before the change
    await usd('charlie', 'charlie', '2025-05-01T00:00:00Z', '2025-06-01T00:00:00Z', '61.25'); // starter; ends exactly at to: in
    // delta.
    await usd('delta', 'delta', '2025-01-10T00:00:00Z', '2025-02-10T00:00:00Z', '199.00'); // ends before from: out
    await usd('delta', 'delta', '2025-02-10T00:00:00Z', '2025-03-10T00:00:00Z', '199.00', '19.90', 'paid'); // pro 179.10
    // alpha.
    await usd('alpha', 'alpha', '2025-02-01T00:00:00Z', '2025-03-01T00:00:00Z', '49.00'); // ends exactly at from: out
    await usd('alpha', 'alpha', '2025-03-01T00:00:00Z', '2025-04-01T00:00:00Z', '49.00', '0', 'void'); // void: out
    await usd('alpha', 'alpha', '2025-04-01T00:00:00Z', '2025-05-01T00:00:00Z', '49.00', '0', 'uncollectible'); // starter 49.00
    await usd('alpha', 'alpha', '2025-06-01T00:00:00Z', '2025-07-01T00:00:00Z', '49.00'); // ends after to: out
    // juliet: a discount with sub-cent digits, so the sum lands on a tie.
    await usd('juliet', 'juliet', T0, '2025-04-01T00:00:00Z', '199.00', '0.015'); // pro 198.985
    // kilo, in yen.
    await invoice(t.id, subs.kilo!, 'kilo', 'JPY', T0, '2025-04-01T00:00:00Z', '5000', '500'); // 4500
    await invoice(t.id, subs.kilo!, 'kilo', 'JPY', '2025-04-01T00:00:00Z', '2025-05-01T00:00:00Z', '5000'); // 5000
  });

  it.each([
    [
      // pro: 250.50 + 199.00 + 179.10 + 198.985 = 827.585 → 827.58 (a tie, 8 is even);
      // starter: 44.10 + 61.25 + 49.00 = 154.35; yen: 4500 + 5000 = 9500.
      'T0 to T1',
      T0,
      T1,
      [
        { plan: 'yen', currency: 'JPY', invoices: 2, revenue: '9500' },
        { plan: 'pro', currency: 'USD', invoices: 4, revenue: '827.58' },
        { plan: 'starter', currency: 'USD', invoices: 3, revenue: '154.35' },
      ],
    ],
    [
      'periods ending in (04-30, 05-01]',
      '2025-04-30T00:00:00.000Z',
      '2025-05-01T00:00:00.000Z',
      [
        { plan: 'yen', currency: 'JPY', invoices: 1, revenue: '5000' },
        { plan: 'pro', currency: 'USD', invoices: 1, revenue: '199.00' },
        { plan: 'starter', currency: 'USD', invoices: 1, revenue: '49.00' },
      ],
    ],
    ['periods ending in (05-01, 06-01]', '2025-05-01T00:00:00.000Z', T1, [{ plan: 'starter', currency: 'USD', invoices: 1, revenue: '61.25' }]],
    ['no invoices', '2024-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z', []],
  ])('%s', async (_what, from, to, data) => {
    const r = await get(`/v1/analytics/revenue_by_plan?${q({ from, to })}`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ from, to, data });
  });
});

describe('tenants', () => {
  it('see only their own figures', async () => {
    // Tenant b has a plan and a customer with the same codes as the first tenant's, at another price.
    const b = await api.tenant('analytics-b');
    const asB = (method: string, path: string, body?: unknown) => jsonRequest(api.url, b.auth, method, path, body);
    expect((await asB('POST', '/v1/plans', { code: 'pro', name: 'Pro', currency: 'USD', interval: 'month', base_fee: '99.00' })).status).toBe(201);
    expect((await asB('POST', '/v1/customers', { id: 'alpha', name: 'Alpha', currency: 'USD' })).status).toBe(201);
    const sub = (await asB('POST', '/v1/subscriptions', { customer: 'alpha', plan: 'pro', start_date: '2025-01-01T00:00:00Z' })).body.id as string;
    await invoice(b.id, sub, 'alpha', 'USD', T0, '2025-04-01T00:00:00Z', '99.00');

    expect((await asB('GET', `/v1/analytics/mrr?${q({ at: T1 })}`)).body.data).toEqual([{ currency: 'USD', mrr: '99.00', arr: '1188.00', customers: 1, arpu: '99.00' }]);
    expect((await asB('GET', `/v1/analytics/mrr_movements?${q({ from: T0, to: T1 })}`)).body.data).toEqual([
      { currency: 'USD', starting_mrr: '99.00', new: '0.00', expansion: '0.00', contraction: '0.00', churned: '0.00', ending_mrr: '99.00', customers_at_start: 1, churned_customers: 0, churn_rate: '0.0000' },
    ]);
    expect((await asB('GET', `/v1/analytics/revenue_by_plan?${q({ from: T0, to: T1 })}`)).body.data).toEqual([{ plan: 'pro', currency: 'USD', invoices: 1, revenue: '99.00' }]);
    // ... and the first tenant's are unchanged.
    expect(((await get(`/v1/analytics/mrr?${q({ at: T1 })}`)).body.data as { currency: string }[]).find((d) => d.currency === 'USD')).toMatchObject({ mrr: '886.33', customers: 7 });
    expect(((await get(`/v1/analytics/revenue_by_plan?${q({ from: T0, to: T1 })}`)).body.data as { plan: string }[]).find((d) => d.plan === 'pro')).toMatchObject({ invoices: 4, revenue: '827.58' });

    const c = await api.tenant('analytics-c');
    for (const path of [`/v1/analytics/mrr?${q({ at: T1 })}`, `/v1/analytics/mrr_movements?${q({ from: T0, to: T1 })}`, `/v1/analytics/revenue_by_plan?${q({ from: T0, to: T1 })}`]) {
      const r = await jsonRequest(api.url, c.auth, 'GET', path);
      expect([r.status, r.body.data], path).toEqual([200, []]);
    }
  });

  it('need a tenant key', async () => {
    expect((await jsonRequest(api.url, {}, 'GET', '/v1/analytics/mrr')).status).toBe(401);
    expect((await jsonRequest(api.url, api.admin, 'GET', '/v1/analytics/mrr')).status).toBe(403);
  });
});

describe('validation', () => {
  it.each([
    ['at that is not a timestamp', { at: 'yesterday' }, 'TALLY_ERR_INVALID_VALUE', 'at'],
    ['at without a time zone', { at: '2025-06-01T00:00:00' }, 'TALLY_ERR_INVALID_VALUE', 'at'],
    ['at on a day that does not exist', { at: '2025-02-30T00:00:00Z' }, 'TALLY_ERR_INVALID_VALUE', 'at'],
    ['an empty at', { at: '' }, 'TALLY_ERR_INVALID_VALUE', 'at'],
  ])('/mrr refuses %s', async (_what, params, code, field) => {
    const r = await get(`/v1/analytics/mrr?${q(params)}`);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code, field });
  });

  const cases: [string, Record<string, string>, string, string][] = [
    ['no from or to', {}, 'TALLY_ERR_MISSING_FIELD', 'from'],
    ['no from', { to: T1 }, 'TALLY_ERR_MISSING_FIELD', 'from'],
    ['an empty from', { from: '', to: T1 }, 'TALLY_ERR_MISSING_FIELD', 'from'],
    ['no to', { from: T0 }, 'TALLY_ERR_MISSING_FIELD', 'to'],
    ['from that is not a timestamp', { from: '2025-03-01', to: T1 }, 'TALLY_ERR_INVALID_VALUE', 'from'],
    ['to without a time zone', { from: T0, to: '2025-06-01T00:00:00' }, 'TALLY_ERR_INVALID_VALUE', 'to'],
    ['from equal to to', { from: T0, to: '2025-03-01T01:00:00+01:00' }, 'TALLY_ERR_INVALID_VALUE', 'to'],
    ['from after to', { from: T1, to: T0 }, 'TALLY_ERR_INVALID_VALUE', 'to'],
    ['a range over ten years', { from: T0, to: '2035-03-01T00:00:00.001Z' }, 'TALLY_ERR_INVALID_VALUE', 'to'],
  ];
  it.each(['mrr_movements', 'revenue_by_plan'].flatMap((route) => cases.map(([what, params, code, field]) => [route, what, params, code, field] as const)))(
    '/%s refuses %s',
    async (route, _what, params, code, field) => {
      const r = await get(`/v1/analytics/${route}?${q(params)}`);
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code, field });
    },
  );

  it.each(['mrr_movements', 'revenue_by_plan'])('/%s takes a range of exactly ten years', async (route) => {
    const r = await get(`/v1/analytics/${route}?${q({ from: T0, to: '2035-03-01T00:00:00.000Z' })}`);
    expect(r.status).toBe(200);
  });
});
