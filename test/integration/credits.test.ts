import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createRegistry } from '../../core/metrics.js';
import { period } from '../../catalog/periods.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { testSync } from '../support/sync.js';
import { jsonRequest, startTestApi, testAggregator, type TestApi } from '../support/api.js';
import { Dec } from '../../core/money.js';
import { startStripeFake } from '../../stripe-fake/index.js';
import { invoiceCreditFollows } from '../../catalog/credits.js';

/**
 * Customer credits: granted through the API with a ledger that is its own audit trail, used by
 * period close oldest first, never taking a total below zero; charges below zero (a downgrade)
 * are carried to the balance; a plan's credit allowance is granted each period, used after
 * purchased credit and expires with its period.
 */
const DAY = 86_400_000;
const start = new Date(Math.floor((Date.now() - 75 * DAY) / DAY) * DAY);

let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let stack: RatingStack;
const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);

interface Invoice {
  customer: string;
  period_start: string;
  subtotal: string;
  credit: string;
  total: string;
  status: string;
  lines: { type: string; amount: string; description: string }[];
}

beforeAll(async () => {
  api = await startTestApi({ env: { TALLY_EVENT_MAX_AGE_SECONDS: String(200 * 86_400) } });
  t = await api.tenant('credits');
  stack = createRatingStack(api.stores.config, api.stores, createRegistry());
  await call('POST', '/v1/plans', { code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', base_fee: '49.00' });
  await call('POST', '/v1/plans', { code: 'pro', name: 'Pro', currency: 'USD', interval: 'month', base_fee: '199.00' });
  await call('POST', '/v1/plans', { code: 'jp', name: 'Japan', currency: 'JPY', interval: 'month', base_fee: '4980' });
  await call('POST', '/v1/customers', { id: 'acme', name: 'Acme', currency: 'USD' });
  await call('POST', '/v1/customers', { id: 'yen', name: 'Yen', currency: 'JPY' });
});
afterAll(async () => {
  await stack?.pool.close();
  await api.stop();
});

describe('credits API', () => {
  it('grants purchased credit and shows the balance and the ledger', async () => {
    const a = await call('POST', '/v1/customers/acme/credits', { amount: '30.00', reason: 'prepaid' });
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({ id: expect.stringMatching(/^cred_/), customer: 'acme', currency: 'USD', amount: '30.00', remaining: '30.00', source: 'purchase', reason: 'prepaid' });
    await call('POST', '/v1/customers/acme/credits', { amount: '50' });
    const b = await call('GET', '/v1/customers/acme/credits');
    expect(b.body).toMatchObject({ customer: 'acme', currency: 'USD', balance: '80.00' });
    expect(b.body.grants).toHaveLength(2);
    const ledger = await call('GET', '/v1/customers/acme/credits/ledger');
    expect((ledger.body.data as { kind: string; amount: string; balance: string }[]).map((e) => [e.kind, e.amount, e.balance])).toEqual([
      ['grant', '30.00', '30.00'],
      ['grant', '50.00', '80.00'],
    ]);
  });

  it.each([
    ['a negative amount', 'acme', { amount: '-5' }, 400, 'TALLY_ERR_INVALID_VALUE'],
    ['zero', 'acme', { amount: '0' }, 400, 'TALLY_ERR_INVALID_VALUE'],
    ['a number, not a string', 'acme', { amount: 5 }, 400, 'TALLY_ERR_INVALID_TYPE'],
    ['more places than the currency has (JPY)', 'yen', { amount: '10.5' }, 400, 'TALLY_ERR_INVALID_VALUE'],
    ['an unknown field', 'acme', { amount: '5', expires: 'never' }, 400, 'TALLY_ERR_UNKNOWN_FIELD'],
    ['an unknown customer', 'nobody', { amount: '5' }, 404, 'TALLY_ERR_NOT_FOUND'],
  ])('refuses %s', async (_name, customer, body, status, code) => {
    const r = await call('POST', `/v1/customers/${customer}/credits`, body);
    expect(r.status).toBe(status);
    expect(r.body.error.code).toBe(code);
  });

  it('hides another tenant’s customers', async () => {
    const other = await api.tenant('other-credits');
    expect((await jsonRequest(api.url, other.auth, 'GET', '/v1/customers/acme/credits')).status).toBe(404);
    expect((await jsonRequest(api.url, other.auth, 'POST', '/v1/customers/acme/credits', { amount: '5' })).status).toBe(404);
  });
});

describe('credits at period close', () => {
  it('bring totals down oldest grant first, never below zero; the ledger balances', async () => {
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'basic', start_date: start.toISOString() })).body;
    await testAggregator(api).runOnce();
    expect((await stack.billing.close(new Date(period(start, 'month', 1).end.getTime() + 2 * 3_600_000))).invoices).toBe(2);
    const invoices = ((await call('GET', `/v1/invoices?subscription=${sub.id}`)).body.data as Invoice[]).sort((a, b) => a.period_start.localeCompare(b.period_start));
    // 80.00 of credit: the first invoice (49.00) takes 30.00 then 19.00; the second takes the last 31.00.
    expect(invoices.map((i) => [i.subtotal, i.credit, i.total, i.status])).toEqual([
      ['49.00', '49.00', '0.00', 'paid'],
      ['49.00', '31.00', '18.00', 'open'],
    ]);
    expect(invoices[0]!.lines.filter((l) => l.type === 'credit').map((l) => l.amount)).toEqual(['-30.000000', '-19.000000']);
    // A total of zero is paid as it is written, and the tenant is told so.
    const paid = (await call('GET', '/v1/webhook_events?type=invoice.paid')).body.data as { data: { id: string; total: string; status: string } }[];
    expect(paid.map((e) => [e.data.id, e.data.total, e.data.status])).toEqual([[(invoices[0] as Invoice & { id: string }).id, '0.00', 'paid']]);
    expect((await call('GET', '/v1/customers/acme/credits')).body.balance).toBe('0.00');
    const ledger = (await call('GET', '/v1/customers/acme/credits/ledger')).body.data as { kind: string; amount: string; balance: string }[];
    expect(ledger.map((e) => [e.kind, e.amount])).toEqual([
      ['grant', '30.00'],
      ['grant', '50.00'],
      ['consume', '-30.00'],
      ['consume', '-19.00'],
      ['consume', '-31.00'],
    ]);
    expect(ledger.at(-1)!.balance).toBe('0.00');
  });

  it('carry charges below zero to the balance, the invoice at zero', async () => {
    // Usage billed in one period, then taken back by a late negative event: the next invoice's
    // adjustment is larger than its charges.
    await call('POST', '/v1/meters', { key: 'units', name: 'Units', aggregation: 'sum' });
    await call('POST', '/v1/plans', { code: 'metered', name: 'Metered', currency: 'USD', interval: 'month', base_fee: '5', charges: [{ meter: 'units', model: 'per_unit', unit_price: '1' }] });
    await call('POST', '/v1/customers', { id: 'refund', name: 'Refund', currency: 'USD' });
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'refund', plan: 'metered', start_date: start.toISOString() })).body;
    const p0 = period(start, 'month', 0);
    const p1 = period(start, 'month', 1);
    expect((await call('POST', '/v1/events', { id: 'u1', customer: 'refund', meter: 'units', value: '100', timestamp: new Date(p0.start.getTime() + DAY).toISOString() })).status).toBe(202);
    await testAggregator(api).runOnce();
    await stack.billing.close(new Date(p0.end.getTime() + 2 * 3_600_000));
    expect((await call('POST', '/v1/events', { id: 'u2', customer: 'refund', meter: 'units', value: '-150', timestamp: new Date(p0.start.getTime() + 2 * DAY).toISOString() })).status).toBe(202);
    await testAggregator(api).runOnce();
    await stack.billing.close(new Date(p1.end.getTime() + 2 * 3_600_000));
    const second = ((await call('GET', `/v1/invoices?subscription=${sub.id}`)).body.data as Invoice[]).find((i) => i.period_start === p1.start.toISOString())!;
    // Period 0 now nets −50 units, which bills nothing (not −50): the adjustment is −100.
    // 5 base fee + 0 usage − 100 = −95: carried to the balance, total 0.
    expect([second.subtotal, second.credit, second.total, second.status]).toEqual(['-95.00', '-95.00', '0.00', 'paid']);
    expect(second.lines.at(-1)).toMatchObject({ type: 'credit', amount: '95.000000' });
    expect((await call('GET', '/v1/customers/refund/credits')).body).toMatchObject({ balance: '95.00', grants: [{ source: 'invoice_credit', remaining: '95.00' }] });
  });

  it('use a plan’s credit allowance after purchased credit, once per period; what is left expires; the ledger balances', async () => {
    await call('POST', '/v1/plans', { code: 'allow', name: 'Allowance', currency: 'USD', interval: 'month', base_fee: '40.00', credit_allowance: '25.00' });
    await call('POST', '/v1/customers', { id: 'allow', name: 'Allow', currency: 'USD' });
    await call('POST', '/v1/customers/allow/credits', { amount: '30.00' });
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'allow', plan: 'allow', start_date: start.toISOString() })).body;
    const p1 = period(start, 'month', 1);
    const p2 = period(start, 'month', 2);
    const asOf = new Date(p1.end.getTime() + 2 * 3_600_000);
    await stack.billing.close(asOf);
    const invoices = ((await call('GET', `/v1/invoices?subscription=${sub.id}`)).body.data as Invoice[]).sort((a, b) => a.period_start.localeCompare(b.period_start));
    // Period 0: 40.00 takes the 30.00 purchased first, then 10.00 of its 25.00 allowance (15.00 expires).
    // Period 1: its own allowance takes 25.00 of 40.00.
    expect(invoices.map((i) => [i.subtotal, i.credit, i.total])).toEqual([
      ['40.00', '40.00', '0.00'],
      ['40.00', '25.00', '15.00'],
    ]);
    expect(invoices[0]!.lines.filter((l) => l.type === 'credit').map((l) => [l.amount, /^Credit allowance for the period/.test(l.description)])).toEqual([
      ['-30.000000', false],
      ['-10.000000', true],
    ]);
    // Closing again grants, uses and expires nothing more.
    expect((await stack.billing.close(asOf)).invoices).toBe(0);
    const balance = (await call('GET', '/v1/customers/allow/credits')).body as { balance: string; grants: { source: string; remaining: string; period_start: string | null; expires_at: string | null; subscription: string | null }[] };
    // What remains is the running period's allowance, granted by the close run that saw it start.
    expect(balance.balance).toBe('25.00');
    expect(balance.grants.filter((g) => g.remaining !== '0.00')).toEqual([
      expect.objectContaining({ source: 'allowance', remaining: '25.00', subscription: sub.id, period_start: p2.start.toISOString(), expires_at: p2.end.toISOString() }),
    ]);
    const ledger = (await call('GET', '/v1/customers/allow/credits/ledger')).body.data as { kind: string; amount: string; balance: string }[];
    expect(ledger.map((e) => `${e.kind} ${e.amount}`).sort()).toEqual(
      ['grant 30.00', 'grant 25.00', 'grant 25.00', 'grant 25.00', 'consume -30.00', 'consume -10.00', 'expire -15.00', 'consume -25.00'].sort(),
    );
    const sum = ledger.reduce((s, e) => s.plus(e.amount), new Dec(0));
    expect(sum.toFixed(2)).toBe('25.00');
    expect(ledger.at(-1)!.balance).toBe('25.00');

    // The upcoming invoice of the running period uses it (nothing purchased is left).
    const up = (await call('GET', `/v1/subscriptions/${sub.id}/upcoming`)).body as Invoice;
    expect([up.subtotal, up.credit, up.total]).toEqual(['40.00', '25.00', '15.00']);
  });

  it('give back the purchased credit of a voided invoice, not a period’s allowance; Stripe collecting it after all takes it again', async () => {
    const open = async (customer: string) =>
      ((await call('GET', `/v1/invoices?customer=${customer}&status=open`)).body.data as (Invoice & { id: string })[]).sort((a, b) => a.period_start.localeCompare(b.period_start));
    // Acme's second invoice used the last 31.00 of its purchased credit.
    const [acme] = await open('acme');
    expect([acme!.credit, acme!.total]).toEqual(['31.00', '18.00']);
    expect((await call('POST', `/v1/invoices/${acme!.id}/void`, { reason: 'issued by mistake' })).body).toMatchObject({ status: 'void', credit: '31.00' });
    expect((await call('GET', '/v1/customers/acme/credits')).body.balance).toBe('31.00');
    const ledger = (await call('GET', '/v1/customers/acme/credits/ledger')).body.data as { kind: string; amount: string; invoice: string | null; balance: string }[];
    expect(ledger.at(-1)).toMatchObject({ kind: 'release', amount: '31.00', invoice: acme!.id, balance: '31.00' });
    // Voiding again changes nothing.
    await call('POST', `/v1/invoices/${acme!.id}/void`, {});
    expect((await call('GET', '/v1/customers/acme/credits/ledger')).body.data).toHaveLength(ledger.length);
    // An invoice paid by a period's allowance keeps it used: the allowance was that period's.
    const [allow] = await open('allow');
    expect([allow!.credit, allow!.total]).toEqual(['25.00', '15.00']);
    await call('POST', `/v1/invoices/${allow!.id}/void`, {});
    expect((await call('GET', '/v1/customers/allow/credits')).body.balance).toBe('25.00');
    // Stripe charged the voided invoice before the void reached it: the credit is used again, once.
    for (let i = 0; i < 2; i++) await api.stores.postgres.transaction((tx) => invoiceCreditFollows(tx, t.id, acme!.id, { from: 'void', to: 'paid' }));
    expect((await call('GET', '/v1/customers/acme/credits')).body.balance).toBe('0.00');
    expect(((await call('GET', '/v1/customers/acme/credits/ledger')).body.data as { kind: string; amount: string }[]).slice(-2)).toMatchObject([
      { kind: 'release', amount: '31.00' },
      { kind: 'consume', amount: '-31.00' },
    ]);
  });

  it.runIf(process.env.DATABASE_URL)('void an invoice while a close holds its subscription, without a deadlock', async () => {
    await call('POST', '/v1/customers', { id: 'locks', name: 'Locks', currency: 'USD' });
    await call('POST', '/v1/customers/locks/credits', { amount: '30.00' });
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'locks', plan: 'basic', start_date: start.toISOString() })).body.id as string;
    await stack.billing.close(new Date(period(start, 'month', 0).end.getTime() + 2 * 3_600_000));
    const inv = ((await call('GET', `/v1/invoices?subscription=${sub}`)).body.data as (Invoice & { id: string })[])[0]!;
    expect([inv.credit, inv.status]).toEqual(['30.00', 'open']);
    // A close, on a connection of its own, takes the subscription and then the credit grants.
    const close = new pg.Client({ connectionString: api.stores.databaseUrl });
    await close.connect();
    try {
      await close.query('BEGIN');
      await close.query('SELECT 1 FROM subscriptions WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [t.id, sub]);
      const voiding = call('POST', `/v1/invoices/${inv.id}/void`, {});
      await new Promise((r) => setTimeout(r, 300));
      await close.query("SELECT 1 FROM credit_grants WHERE tenant_id = $1 AND customer_id = 'locks' ORDER BY tenant_id, id FOR UPDATE", [t.id]);
      await close.query('COMMIT');
      expect((await voiding).body).toMatchObject({ status: 'void' });
    } finally {
      await close.end();
    }
    expect((await call('GET', '/v1/customers/locks/credits')).body.balance).toBe('30.00');
  });

  it('show an allowance not granted yet on the upcoming invoice as it will be', async () => {
    await call('POST', '/v1/customers', { id: 'fresh', name: 'Fresh', currency: 'USD' });
    const sub = (await call('POST', '/v1/subscriptions', { customer: 'fresh', plan: 'allow', start_date: new Date(Math.floor(Date.now() / DAY) * DAY).toISOString() })).body;
    const up = (await call('GET', `/v1/subscriptions/${sub.id}/upcoming`)).body as Invoice;
    expect(up.lines.filter((l) => l.type === 'credit').map((l) => [l.amount, l.description])).toEqual([['-25.000000', 'Credit allowance for the period']]);
    expect(up.total).toBe('15.00');
    expect((await call('GET', '/v1/customers/fresh/credits')).body.balance).toBe('0.00');
  });

  it.each([
    ['more places than the currency has', { credit_allowance: '1.001' }, 'TALLY_ERR_PRICE_TOO_PRECISE'],
    ['a negative allowance', { credit_allowance: '-5' }, 'TALLY_ERR_PRICE_NEGATIVE'],
    ['a number, not a string', { credit_allowance: 5 }, 'TALLY_ERR_INVALID_TYPE'],
  ])('refuse a plan with %s', async (_name, extra, code) => {
    const r = await call('POST', '/v1/plans', { code: 'bad-allow', name: 'Bad', currency: 'USD', interval: 'month', base_fee: '1', ...extra });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code, field: 'credit_allowance' });
  });

  it('reach Stripe exactly: credit lines as negative items, totals equal to Tally’s', async () => {
    const fake = await startStripeFake({ writesPerSecond: 100_000 });
    try {
      const sync = testSync(api, fake.url, { maxAttempts: 3 });
      const r = await sync.runOnce();
      expect(r.failed).toBe(0);
      // Invoices voided before they reached Stripe are never sent.
      const { rows } = await api.stores.postgres.query<{ id: string; total: string }>("SELECT id, total::text AS total FROM invoices WHERE tenant_id = $1 AND status <> 'void'", [t.id]);
      const inStripe = fake.state.invoices();
      expect(inStripe).toHaveLength(rows.length);
      for (const inv of rows) {
        const s = inStripe.find((x) => x.metadata.tally_invoice === inv.id)!;
        expect(s.total, inv.id).toBe(Number(new Dec(inv.total).times(100).toFixed(0)));
      }
      expect(inStripe.some((s) => s.items.some((i) => i.amount < 0))).toBe(true);
    } finally {
      await fake.close();
    }
  });
});
