import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../../core/metrics.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { meterEventName, pushMeterUsage, type MeterPushDeps } from '../../stripe/meter-usage.js';
import { stripeGateway } from '../../stripe/gateway.js';
import { WriteLimiter } from '../../stripe/rate-limit.js';
import { BillingSync } from '../../stripe/sync.js';
import { startStripeFake, type StripeFake } from '../../stripe-fake/index.js';
import { type TestApi, jsonRequest, startTestApi, testAggregator } from '../support/api.js';
import { testSync } from '../support/sync.js';

/**
 * Meter-mode plans: Tally pushes hourly rated quantities to Stripe Billing Meters, corrections
 * as further events, and Stripe's meter sums exactly to Tally's rated quantity — under faults
 * too.
 */
const HOUR = 3_600_000;
const start = new Date(Math.floor((Date.now() - 3 * 86_400_000) / HOUR) * HOUR);

let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let fake: StripeFake;
let stack: RatingStack;
let subId: string;

const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);
let seq = 0;
async function usage(value: string, at: number) {
  expect((await call('POST', '/v1/events', { id: `m${++seq}`, customer: 'metered', meter: 'api_calls', value, timestamp: new Date(at).toISOString() })).status).toBe(202);
}

const worker = (): BillingSync => testSync(api, fake.url, { timeoutMs: 300, meters: true });

/** Tally's rated quantity of the subscription, in millionths, and Stripe's meter total for the customer. */
async function totals(): Promise<{ tally: bigint; stripe: bigint }> {
  const rs = await api.stores.clickhouse.client.query({
    query: `SELECT toString(sum(q)) AS q FROM (SELECT argMax(quantity, hour) AS q FROM ${api.stores.clickhouse.table('rated_usage_v1')} FINAL
            WHERE subscription_id = {s:String} GROUP BY meter, segment_start)`,
    query_params: { s: subId },
    format: 'JSONEachRow',
  });
  const rows0 = await rs.json<{ q: string }>();
  const [int, frac = ''] = rows0[0]!.q.split('.');
  const tally = BigInt(int!) * 1_000_000n + BigInt((frac + '000000').slice(0, 6));
  const { rows } = await api.stores.postgres.query<{ stripe_customer_id: string }>("SELECT stripe_customer_id FROM customers WHERE id = 'metered'");
  return { tally, stripe: fake.state.meterTotal(meterEventName(t.id, 'api_calls'), rows[0]!.stripe_customer_id) };
}

beforeAll(async () => {
  fake = await startStripeFake({ writesPerSecond: 100_000 });
  api = await startTestApi();
  t = await api.tenant('meters');
  stack = createRatingStack(api.stores.config, api.stores, createRegistry());
  await call('POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum' });
  await call('POST', '/v1/customers', { id: 'metered', name: 'Metered', currency: 'USD' });
  const plan = await call('POST', '/v1/plans', { code: 'usage', name: 'Usage', currency: 'USD', interval: 'month', billing_mode: 'meter', charges: [{ meter: 'api_calls', model: 'per_unit', unit_price: '0.001' }] });
  expect(plan.body.billing_mode).toBe('meter');
  subId = (await call('POST', '/v1/subscriptions', { customer: 'metered', plan: 'usage', start_date: start.toISOString() })).body.id;
  for (let h = 1; h <= 6; h++) await usage(`${h * 100}.25`, start.getTime() + h * HOUR + 60_000);
  await testAggregator(api).runOnce();
  await stack.rater.runOnce();
});
afterAll(async () => {
  await stack?.pool.close();
  await fake?.close();
  await api?.stop();
});

describe('stripe billing meters', () => {
  it('push every hour’s quantity once; Stripe’s meter sums exactly to the rated quantity', async () => {
    await worker().runOnce();
    const { tally, stripe } = await totals();
    expect(tally).toBe(2101_500_000n); // 100.25 + 200.25 + ... + 600.25 = 2101.5
    expect(stripe).toBe(tally);
    const events = fake.state.meterEvents();
    expect(events).toHaveLength(6);
    expect(events.every((e) => /:1$/.test(e.identifier))).toBe(true);
    // Nothing new: nothing pushed.
    await worker().runOnce();
    expect(fake.state.meterEvents()).toHaveLength(6);
  });

  it('push a late event as a correction with the next revision', async () => {
    await usage('0.5', start.getTime() + 2 * HOUR + 120_000);
    await testAggregator(api).runOnce();
    await stack.rater.runOnce();
    await worker().runOnce();
    const { tally, stripe } = await totals();
    expect(tally).toBe(2102_000_000n);
    expect(stripe).toBe(tally);
    const corrections = fake.state.meterEvents().filter((e) => /:2$/.test(e.identifier));
    expect(corrections.map((e) => e.payload.value)).toEqual(['500000']);
  });

  it('stay exact when Stripe fails, drops connections or answers late', async () => {
    for (let h = 7; h <= 30; h++) await usage(`${h}`, start.getTime() + h * HOUR + 60_000);
    await testAggregator(api).runOnce();
    await stack.rater.runOnce();
    fake.faults.set([
      { kind: '500', rate: 0.2, pathPrefix: '/v1/billing/meter_events' },
      { kind: 'drop', rate: 0.15, pathPrefix: '/v1/billing/meter_events' },
      { kind: '500-after-write', rate: 0.15, pathPrefix: '/v1/billing/meter_events' },
    ]);
    for (let i = 0; i < 30; i++) {
      await worker().runOnce();
      const { tally, stripe } = await totals();
      if (tally === stripe) break;
    }
    fake.faults.clear();
    await worker().runOnce();
    const { tally, stripe } = await totals();
    expect(stripe).toBe(tally);
    expect(fake.requests.some((r) => r.fault !== null)).toBe(true);
    // No invoice goes to Stripe for a meter-mode plan.
    expect(fake.state.invoices()).toEqual([]);
  });

  it('send an event cut short again as it was, even once the hour has grown since', async () => {
    const hour = start.getTime() + 2 * HOUR;
    const revisions = () => fake.state.meterEvents().filter((e) => e.identifier.includes(`:${hour / 1000}:`)).map((e) => [e.identifier.split(':').at(-1), e.payload.value]);
    const before = revisions().length;
    await usage('1.5', hour + 180_000);
    await testAggregator(api).runOnce();
    await stack.rater.runOnce();
    // Stripe keeps the event but answers 500: the push does not know it got there.
    fake.faults.set([{ kind: '500-after-write', rate: 1, pathPrefix: '/v1/billing/meter_events' }]);
    await worker().runOnce();
    fake.faults.clear();
    await usage('2.25', hour + 240_000);
    await testAggregator(api).runOnce();
    await stack.rater.runOnce();
    await worker().runOnce();
    // The cut-short event went again as it was (Stripe replayed it), then the rest under the next revision.
    expect(revisions().slice(before)).toEqual([
      [String(before + 1), '1500000'],
      [String(before + 2), '2250000'],
    ]);
    const { tally, stripe } = await totals();
    expect(stripe).toBe(tally);
  });

  it('use up the revision of an event Stripe refused outright, and push the hour again once it can be', async () => {
    const hour = start.getTime() + 40 * HOUR;
    // A mistaken event: 2e9 units in an hour is 2e15 millionths, more digits than Stripe takes (a 400).
    await usage('2000000000', hour + 60_000);
    await testAggregator(api).runOnce();
    await stack.rater.runOnce();
    await worker().runOnce();
    // Taken back, and a normal later hour comes in: both reach Stripe, and its meter is exact.
    await usage('-2000000000', hour + 120_000);
    await usage('5', hour + HOUR + 60_000);
    await testAggregator(api).runOnce();
    await stack.rater.runOnce();
    await worker().runOnce();
    const { tally, stripe } = await totals();
    expect(stripe).toBe(tally);
    const { rows } = await api.stores.postgres.query<{ sending: number | null }>('SELECT sending_revision AS sending FROM stripe_meter_pushes WHERE hour >= $1', [new Date(hour)]);
    expect(rows.every((r) => r.sending === null)).toBe(true);
  });

  it('of two sync processes pushing one subscription at once, neither sets back what the other recorded', async () => {
    const hour = start.getTime() + 4 * HOUR;
    const { rows } = await api.stores.postgres.query<{ stripe_customer_id: string }>("SELECT stripe_customer_id FROM customers WHERE id = 'metered'");
    const failures: unknown[] = [];
    const deps = (limiter: WriteLimiter): MeterPushDeps => ({
      ch: api.stores.clickhouse,
      pg: api.stores.postgres,
      gateway: stripeGateway({ secretKey: 'sk_test_tally', apiBase: fake.url, timeoutMs: 2_000 }),
      limiter,
      stripeCustomer: () => Promise.resolve(rows[0]!.stripe_customer_id),
      isRetryable: () => false,
      onSubscriptionFailed: (_sub, e) => failures.push(e),
    });
    const free = new WriteLimiter(10_000);
    const more = async (value: string, n: number) => {
      await usage(value, hour + n * 60_000);
      await testAggregator(api).runOnce();
      await stack.rater.runOnce();
    };
    await more('1', 10);
    // Process A reads the hour and waits for its turn to write to Stripe.
    let waiting!: () => void;
    const atGate = new Promise<void>((r) => (waiting = r));
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const gated = Object.assign(new WriteLimiter(10_000), { take: () => (waiting(), gate) });
    const a = pushMeterUsage(deps(gated));
    await atGate;
    // Meanwhile process B pushes the hour, and again after more usage.
    await pushMeterUsage(deps(free));
    await more('2', 11);
    await pushMeterUsage(deps(free));
    open();
    await a;
    // More usage still: pushed under the revision after B's last, and Stripe's meter is exact.
    await more('4', 12);
    await pushMeterUsage(deps(free));
    expect(failures).toEqual([]);
    const { tally, stripe } = await totals();
    expect(stripe).toBe(tally);
  });
});
