import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dec } from '../../core/money.js';
import { createRegistry } from '../../core/metrics.js';
import { period } from '../../catalog/periods.js';
import { createRatingStack } from '../../app/rating-stack.js';
import { BillingSync } from '../../stripe/sync.js';
import { FAULT_KINDS, startStripeFake, type FaultKind, type StripeFake } from '../../stripe-fake/index.js';
import { type TestApi, jsonRequest, startTestApi, testAggregator } from '../support/api.js';
import { testSync } from '../support/sync.js';
import { freePort } from '../support/ports.js';

/**
 * Invoice sync against the local Stripe-compatible server: every closed invoice ends up in
 * Stripe exactly once, with exactly Tally's total, whatever the server does to the requests —
 * 500s, 429s, 409s, timeouts, dropped connections (with or without the write applied) — and
 * with two sync workers at once.
 */
const DAY = 86_400_000;
const start = new Date(Math.floor((Date.now() - 75 * DAY) / DAY) * DAY);
const CUSTOMERS = 8;

let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let fake: StripeFake;
/** How far the Stripe fake's clock is ahead (to let it forget idempotency keys). */
let skew = 0;

const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);

const worker = (timeoutMs = 2_000, backoffMs: number | ((stalled: number) => number) = 0, maxAttempts?: number): BillingSync =>
  testSync(api, fake.url, { timeoutMs, backoffMs, ...(maxAttempts === undefined ? {} : { maxAttempts }) });

/** Runs workers until no row is pending. */
async function drain(workers: BillingSync[]): Promise<void> {
  for (let round = 0; round < 500; round++) {
    await Promise.all(workers.map((w) => w.runOnce(3)));
    const { rows } = await api.stores.postgres.query<{ n: string }>("SELECT count(*)::text AS n FROM stripe_outbox WHERE state <> 'done'");
    if (rows[0]!.n === '0') return;
  }
  const { rows } = await api.stores.postgres.query<{ state: string; last_error: string | null; attempts: number }>("SELECT state, last_error, attempts FROM stripe_outbox WHERE state <> 'done' LIMIT 3");
  throw new Error(`the outbox did not drain: ${JSON.stringify(rows)}`);
}

/** Forget every Stripe id and make every row due again, with an empty Stripe: a fresh sync of the same invoices. */
async function resetSync(): Promise<void> {
  const pg = api.stores.postgres;
  await pg.query(
    "UPDATE stripe_outbox SET state = 'pending', attempts = 0, stalled_attempts = 0, steps_done = 0, next_attempt_at = now(), locked_by = NULL, locked_until = NULL, last_error = NULL, done_at = NULL",
  );
  await pg.query('UPDATE invoices SET stripe_invoice_id = NULL, synced_at = NULL');
  await pg.query('UPDATE customers SET stripe_customer_id = NULL');
  fake.reset();
}

/** Every closed invoice is in Stripe exactly once, open, with one item per line adding up to Tally's total; one Stripe customer per Tally customer. */
async function expectExactlyOnce(): Promise<void> {
  const { rows } = await api.stores.postgres.query<{ id: string; total: string; stripe_invoice_id: string | null; lines: string }>(
    `SELECT i.id, i.total::text AS total, i.stripe_invoice_id, (SELECT count(*)::text FROM invoice_lines l WHERE l.tenant_id = i.tenant_id AND l.invoice_id = i.id) AS lines
       FROM invoices i WHERE i.tenant_id = $1`,
    [t.id],
  );
  expect(rows.length).toBe(CUSTOMERS * 2);
  const invoices = fake.state.invoices();
  expect(invoices.length, 'Stripe invoices').toBe(rows.length);
  for (const inv of rows) {
    const copies = invoices.filter((s) => s.metadata.tally_invoice === inv.id);
    expect(copies.length, `copies of ${inv.id}`).toBe(1);
    const s = copies[0]!;
    expect(s.id).toBe(inv.stripe_invoice_id);
    expect(s.status).toBe('open');
    expect(s.total).toBe(Number(new Dec(inv.total).times(100).toFixed(0)));
    expect(s.items.length).toBe(Number(inv.lines));
    expect(s.items.reduce((n, i) => n + i.amount, 0)).toBe(s.total);
  }
  const customers = fake.state.customers();
  expect(customers.length).toBe(CUSTOMERS);
  expect(new Set(customers.map((c) => c.metadata.tally_customer)).size).toBe(CUSTOMERS);
}

beforeAll(async () => {
  fake = await startStripeFake({ writesPerSecond: 100_000, clock: () => Date.now() + skew });
  api = await startTestApi();
  t = await api.tenant('sync');
  await call('POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum' });
  await call('POST', '/v1/plans', {
    code: 'pro', name: 'Pro', currency: 'USD', interval: 'month', base_fee: '19.99',
    charges: [{ meter: 'api_calls', model: 'per_unit', unit_price: '0.0003333' }],
  });
  for (let c = 0; c < CUSTOMERS; c++) {
    await call('POST', '/v1/customers', { id: `cust${c}`, name: `Customer ${c}`, currency: 'USD', email: `c${c}@example.com` });
    await call('POST', '/v1/subscriptions', { customer: `cust${c}`, plan: 'pro', start_date: start.toISOString() });
    await call('POST', '/v1/events', { id: `e${c}`, customer: `cust${c}`, meter: 'api_calls', value: String(1234 * (c + 1)), timestamp: new Date(Date.now() - 34 * DAY).toISOString() });
  }
  await testAggregator(api).runOnce();
  // Closed as by a deployment with billing sync configured: the invoices are final once Stripe finalizes them.
  const stack = createRatingStack({ ...api.stores.config, stripe: { ...api.stores.config.stripe, secretKey: 'sk_test_sync' } }, api.stores, createRegistry());
  await stack.billing.close(new Date(period(start, 'month', 1).end.getTime() + 2 * 3_600_000));
  await stack.pool.close();
});
afterAll(async () => {
  await fake?.close();
  await api?.stop();
});

describe('invoice sync', () => {
  it('puts every closed invoice in Stripe once, with its lines and Tally’s total', async () => {
    await drain([worker()]);
    await expectExactlyOnce();
    const inv = (await call('GET', '/v1/invoices?customer=cust3')).body.data[0];
    expect(inv.stripe_invoice_id).toMatch(/^in_/);
    // Nothing left to do: a second run writes nothing.
    const before = fake.requests.length;
    await worker().runOnce();
    expect(fake.requests.length).toBe(before);
    // The tenant heard of each invoice when it was closed, and again, once, when Stripe finalized it.
    const events = (await call('GET', '/v1/webhook_events?limit=500')).body.data as { type: string; data: { id: string; stripe_invoice_id: string | null } }[];
    const { rows } = await api.stores.postgres.query<{ id: string; stripe_invoice_id: string }>('SELECT id, stripe_invoice_id FROM invoices WHERE tenant_id = $1 ORDER BY id', [t.id]);
    const of = (type: string) => events.filter((e) => e.type === type).map((e) => [e.data.id, e.data.stripe_invoice_id]).sort();
    expect(of('invoice.created')).toEqual(rows.map((r) => [r.id, null]));
    expect(of('invoice.finalized')).toEqual(rows.map((r) => [r.id, r.stripe_invoice_id]));
  });

  it.each(FAULT_KINDS.map((k) => [k] as [FaultKind]))('survives %s faults on many requests', async (kind) => {
    await resetSync();
    // Timeouts and drops cost the client a wait each: fewer of them keep the test quick.
    const rate = kind === 'timeout' || kind === 'drop' ? 0.15 : 0.35;
    fake.faults.set([{ kind, rate, ...(kind === 'timeout' ? { delayMs: 600 } : {}) }]);
    await drain([worker(250)]);
    fake.faults.clear();
    expect(fake.requests.some((r) => r.fault === kind), `some ${kind} faults happened`).toBe(true);
    await expectExactlyOnce();
  });

  it('survives every fault at once, with two workers racing', async () => {
    await resetSync();
    fake.faults.set(FAULT_KINDS.map((kind) => ({ kind, rate: 0.05, ...(kind === 'timeout' ? { delayMs: 600 } : {}) })));
    await drain([worker(250), worker(250)]);
    fake.faults.clear();
    await expectExactlyOnce();
  });

  it('after Stripe has forgotten its keys (24 h), finds what an earlier attempt wrote instead of writing it again', async () => {
    await resetSync();
    // A first attempt writes customers, invoices and items, but every finalization fails.
    fake.faults.set([{ kind: '500', rate: 1, pathPrefix: '/v1/invoices/', method: 'POST' }]);
    await worker(2_000, 3_600_000).runOnce();
    fake.faults.clear();
    expect(fake.state.invoices().every((i) => i.status === 'draft' && i.items.length > 0)).toBe(true);
    // Tally lost what it recorded (as after a crash before each record), the rows are two days
    // old, and Stripe no longer knows the idempotency keys.
    const pg = api.stores.postgres;
    await pg.query("UPDATE stripe_outbox SET state = 'pending', attempts = 0, next_attempt_at = now(), created_at = now() - interval '2 days'");
    await pg.query('UPDATE invoices SET stripe_invoice_id = NULL, synced_at = NULL');
    await pg.query('UPDATE customers SET stripe_customer_id = NULL');
    // (Clocks only move forward: the fake stays a day ahead from here on.)
    skew = 25 * 3_600_000;
    await drain([worker()]);
    await expectExactlyOnce();
  });

  it('retries a transient error in place: a flaky request does not put its invoice off', async () => {
    await resetSync();
    fake.faults.set([{ kind: '500', rate: 1, pathPrefix: '/v1/invoiceitems', method: 'POST', times: 2 }]);
    // A row scheduled again would wait an hour: everything is done in one run, or the test fails.
    const report = await worker(2_000, 3_600_000).runOnce(50);
    fake.faults.clear();
    expect(fake.requests.filter((r) => r.fault === '500').length).toBe(2);
    expect(report).toEqual({ claimed: CUSTOMERS * 2, done: CUSTOMERS * 2, retried: 0, failed: 0 });
    await expectExactlyOnce();
  });

  it('an attempt that got further is tried again soon; one that got no further backs off, and enough of those fail the row', async () => {
    await resetSync();
    const pg = api.stores.postgres;
    const outbox = async () =>
      (await pg.query<{ state: string; stalled_attempts: number; steps_done: number; due_now: boolean }>(
        "SELECT state, stalled_attempts, steps_done, next_attempt_at <= now() + interval '1 minute' AS due_now FROM stripe_outbox WHERE state <> 'done'",
      )).rows;
    // One invoice's first item fails three times in a row (the request and both retries in
    // place), after its customer and draft were written: that attempt got further than any before.
    fake.faults.set([{ kind: '500', rate: 1, pathPrefix: '/v1/invoiceitems', method: 'POST', times: 3 }]);
    const hourUnlessProgress = (stalled: number) => (stalled === 0 ? 0 : 3_600_000);
    await worker(2_000, hourUnlessProgress).runOnce(50);
    expect(await outbox()).toEqual([{ state: 'pending', stalled_attempts: 0, steps_done: 2, due_now: true }]);
    await worker(2_000, hourUnlessProgress).runOnce(50);
    expect(await outbox()).toEqual([]);
    await expectExactlyOnce();

    // Every customer write refused for a while: no attempt gets anywhere.
    await resetSync();
    fake.faults.set([{ kind: '500', rate: 1, pathPrefix: '/v1/customers', method: 'POST' }]);
    await worker(2_000, hourUnlessProgress).runOnce(50);
    const stalled = await outbox();
    expect(stalled.length).toBe(CUSTOMERS * 2);
    expect(stalled.every((r) => r.state === 'pending' && r.stalled_attempts === 1 && r.steps_done === 0 && !r.due_now)).toBe(true);
    // With no wait and two attempts allowed, the second attempt without progress fails them.
    await pg.query('UPDATE stripe_outbox SET next_attempt_at = now()');
    await worker(2_000, 0, 2).runOnce(50);
    expect((await outbox()).every((r) => r.state === 'failed' && r.stalled_attempts === 1)).toBe(true);
    fake.faults.clear();
  });

  it('stops a run when Stripe cannot be reached for several rows in a row; the rows it did not try wait, untouched, for the next', async () => {
    await resetSync();
    const closed = await freePort();
    const started = Date.now();
    const report = await testSync(api, `http://127.0.0.1:${closed}`, { timeoutMs: 2_000, backoffMs: 0 }).runOnce(50);
    expect(report).toMatchObject({ done: 0, retried: 5, failed: 0, unreachable: true });
    expect(Date.now() - started).toBeLessThan(30_000);
    const { rows } = await api.stores.postgres.query<{ attempts: number; due: boolean; locked: boolean }>(
      "SELECT attempts, next_attempt_at <= now() AS due, locked_by IS NOT NULL AS locked FROM stripe_outbox WHERE state = 'pending' ORDER BY attempts",
    );
    expect(rows.length).toBe(CUSTOMERS * 2);
    // Five tried (and scheduled again), the rest given back as they were.
    expect(rows.filter((r) => r.attempts === 0 && r.due && !r.locked).length).toBe(CUSTOMERS * 2 - 5);
    await api.stores.postgres.query('UPDATE stripe_outbox SET next_attempt_at = now()');
    await drain([worker()]);
    await expectExactlyOnce();
  });

  it('fails a row Stripe refuses for good, keeping the error, and goes on with the others', async () => {
    await resetSync();
    // A customer Stripe refuses (an email it will not take) — the fake checks what it receives.
    await api.stores.postgres.query("UPDATE customers SET email = 'not an email' WHERE tenant_id = $1 AND id = 'cust0'", [t.id]);
    await worker().runOnce();
    const { rows } = await api.stores.postgres.query<{ state: string; n: string; err: string | null }>(
      'SELECT state, count(*)::text AS n, max(last_error) AS err FROM stripe_outbox GROUP BY state ORDER BY state',
    );
    expect(rows.map((r) => [r.state, r.n]), JSON.stringify(rows)).toEqual([
      ['done', String(CUSTOMERS * 2 - 2)],
      ['failed', '2'],
    ]);
    expect(rows.find((r) => r.state === 'failed')!.err).toMatch(/email/i);
    await api.stores.postgres.query("UPDATE customers SET email = 'c0@example.com' WHERE tenant_id = $1 AND id = 'cust0'", [t.id]);
  });
});
