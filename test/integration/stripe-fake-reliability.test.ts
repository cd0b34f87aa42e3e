import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import { type StripeFake, type StripeFakeOptions, startStripeFake } from '../../stripe-fake/index.js';

// Idempotency, the write rate limit and injected faults, as a client of the local Stripe server
// sees them through the official `stripe` package.

const started: StripeFake[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((f) => f.close()));
});

async function start(o: StripeFakeOptions = {}): Promise<StripeFake> {
  const f = await startStripeFake({ writesPerSecond: Infinity, ...o });
  started.push(f);
  return f;
}

const client = (fake: StripeFake, o: { maxNetworkRetries?: number; timeout?: number } = {}) =>
  new Stripe('sk_test_fake', { ...fake.clientOptions, maxNetworkRetries: 0, telemetry: false, ...o });

async function stripeError(p: Promise<unknown>): Promise<InstanceType<typeof Stripe.errors.StripeError>> {
  try {
    await p;
  } catch (e) {
    if (e instanceof Stripe.errors.StripeError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

async function post(fake: StripeFake, path: string, body: string, key: string) {
  const res = await fetch(`${fake.url}${path}`, {
    method: 'POST',
    headers: { authorization: 'Bearer sk_test_fake', 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': key },
    body,
  });
  return { status: res.status, body: (await res.json()) as any, replayed: res.headers.get('idempotent-replayed') };
}

describe('idempotency', () => {
  it('replays the first response for the same key and parameters', async () => {
    const fake = await start();
    const stripe = client(fake);
    const first = await stripe.customers.create({ name: 'A', metadata: { t: '1' } }, { idempotencyKey: 'tally:t1:customer:c1' });
    const second = await stripe.customers.create({ name: 'A', metadata: { t: '1' } }, { idempotencyKey: 'tally:t1:customer:c1' });
    expect(second.id).toBe(first.id);
    expect(second.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(first.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    expect(fake.state.customers()).toHaveLength(1);
    expect(fake.requests.map((r) => [r.executed, r.replayed])).toEqual([
      [true, false],
      [false, true],
    ]);
  });

  it('the same parameters in another order are the same request', async () => {
    const fake = await start();
    const a = await post(fake, '/v1/customers', 'name=A&metadata[x]=1&metadata[y]=2', 'k');
    const b = await post(fake, '/v1/customers', 'metadata[y]=2&metadata[x]=1&name=A', 'k');
    expect([a.status, b.status, b.replayed]).toEqual([200, 200, 'true']);
    expect(b.body.id).toBe(a.body.id);
  });

  it('refuses the key with other parameters or on another endpoint (idempotency_error)', async () => {
    const fake = await start();
    const stripe = client(fake);
    const c = await stripe.customers.create({ name: 'A' }, { idempotencyKey: 'k1' });
    const params = await stripeError(stripe.customers.create({ name: 'B' }, { idempotencyKey: 'k1' }));
    expect(params).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(params).toMatchObject({ statusCode: 400, type: 'StripeIdempotencyError' });
    expect(params.raw).toMatchObject({ type: 'idempotency_error' });
    expect(params.message).toContain('same parameters');
    const endpoint = await stripeError(stripe.invoices.create({ customer: c.id }, { idempotencyKey: 'k1' }));
    expect(endpoint).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(endpoint.message).toContain("'POST /v1/customers' vs 'POST /v1/invoices'");
    expect(fake.state.customers()).toHaveLength(1);
    expect(fake.state.invoices()).toHaveLength(0);
  });

  it('a request that failed validation leaves nothing under its key; an endpoint error is replayed', async () => {
    const fake = await start();
    const stripe = client(fake);
    expect(await stripeError(stripe.customers.create({ email: 'bad' }, { idempotencyKey: 'k2' }))).toMatchObject({ code: 'email_invalid' });
    await expect(stripe.customers.create({ email: 'ok@example.com' }, { idempotencyKey: 'k2' })).resolves.toMatchObject({ email: 'ok@example.com' });

    const c = await stripe.customers.create({});
    const inv = await stripe.invoices.create({ customer: c.id });
    await stripe.invoices.finalizeInvoice(inv.id);
    const refused = await stripeError(stripe.invoiceItems.create({ customer: c.id, invoice: inv.id, amount: 5 }, { idempotencyKey: 'k3' }));
    expect(refused).toMatchObject({ statusCode: 400, code: 'invoice_not_editable' });
    const replayed = await stripeError(stripe.invoiceItems.create({ customer: c.id, invoice: inv.id, amount: 5 }, { idempotencyKey: 'k3' }));
    expect(replayed).toMatchObject({ statusCode: 400, code: 'invoice_not_editable' });
    expect(replayed.headers?.['idempotent-replayed']).toBe('true');
  });

  it('keys are kept for 24 hours', async () => {
    let now = Date.now();
    const fake = await start({ clock: () => now });
    const stripe = client(fake);
    await stripe.customers.create({ name: 'A' }, { idempotencyKey: 'k' });
    now += 23 * 3600_000;
    await stripeError(stripe.customers.create({ name: 'B' }, { idempotencyKey: 'k' }));
    now += 3600_000;
    await expect(stripe.customers.create({ name: 'B' }, { idempotencyKey: 'k' })).resolves.toMatchObject({ name: 'B' });
    expect(fake.state.customers().map((c) => c.name)).toEqual(['A', 'B']);
  });
});

describe('rate limit', () => {
  it('answers 429 rate_limit beyond writesPerSecond; the stripe package does not retry it', async () => {
    let now = Date.now();
    const fake = await start({ writesPerSecond: 3, clock: () => now });
    const stripe = client(fake, { maxNetworkRetries: 2 });
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => stripe.customers.create({ name: `c${i}` })));
    const limited = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as InstanceType<typeof Stripe.errors.StripeError>] : []));
    expect(limited).toHaveLength(2);
    for (const e of limited) {
      expect(e).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
      expect(e).toMatchObject({ statusCode: 429, code: 'rate_limit' });
    }
    expect(fake.requests).toHaveLength(5);
    expect(fake.requests.filter((r) => r.rateLimited)).toHaveLength(2);
    expect(fake.state.customers()).toHaveLength(3);

    // Reads are not writes; a second later the bucket has refilled.
    await stripe.customers.list();
    expect(await stripeError(stripe.customers.create({}))).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    now += 1000;
    await Promise.all([stripe.customers.create({}), stripe.customers.create({}), stripe.customers.create({})]);
  });
});

describe('faults', () => {
  it('500: api_error, nothing stored; the package retries it with the same key and succeeds', async () => {
    const fake = await start();
    fake.faults.add({ kind: '500', rate: 1, pathPrefix: '/v1/customers', method: 'POST' });
    const e = await stripeError(client(fake).customers.create({ name: 'A' }));
    expect(e).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(e).toMatchObject({ statusCode: 500 });
    expect(e.raw).toMatchObject({ type: 'api_error' });
    expect(fake.state.customers()).toHaveLength(0);

    fake.faults.set([{ kind: '500', rate: 1, times: 1 }]);
    const retried = await client(fake, { maxNetworkRetries: 1 }).customers.create({ name: 'B' }, { idempotencyKey: 'kb' });
    expect(fake.state.customers().map((c) => c.id)).toEqual([retried.id]);
    expect(fake.requests.slice(-2).map((r) => [r.status, r.fault, r.idempotencyKey])).toEqual([
      [500, '500', 'kb'],
      [200, null, 'kb'],
    ]);
  });

  it('429: a rate_limit error the package does not retry', async () => {
    const fake = await start();
    fake.faults.add({ kind: '429', rate: 1 });
    expect(await stripeError(client(fake, { maxNetworkRetries: 2 }).customers.create({}))).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(fake.requests).toHaveLength(1);
    expect(fake.state.customers()).toHaveLength(0);
  });

  it('409: lock_timeout, retried by the package', async () => {
    const fake = await start();
    fake.faults.add({ kind: '409', rate: 1, times: 1 });
    const e = await stripeError(client(fake).customers.create({}));
    expect(e).toMatchObject({ statusCode: 409, code: 'lock_timeout' });
    await client(fake, { maxNetworkRetries: 1 }).customers.create({});
    expect(fake.state.customers()).toHaveLength(1);
  });

  it('timeout: never answered; the write may or may not have happened', async () => {
    const fake = await start();
    const stripe = client(fake, { timeout: 300 });
    fake.faults.set([{ kind: 'timeout', rate: 1, times: 1, applied: false }]);
    const lost = await stripeError(stripe.customers.create({ name: 'lost' }, { idempotencyKey: 'k-lost' }));
    expect(lost).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(lost.message).toMatch(/timeout/);
    expect(fake.state.customers()).toHaveLength(0);

    fake.faults.set([{ kind: 'timeout', rate: 1, times: 1, applied: true }]);
    await stripeError(stripe.customers.create({ name: 'kept' }, { idempotencyKey: 'k-kept' }));
    expect(fake.state.customers().map((c) => c.name)).toEqual(['kept']);
    // The retry with the same key gets the original answer.
    const again = await stripe.customers.create({ name: 'kept' }, { idempotencyKey: 'k-kept' });
    expect(again.id).toBe(fake.state.customers()[0]?.id);
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(fake.requests.map((r) => r.status)).toEqual([null, null, 200]);
  });

  it('timeout with delayMs answers late with the real response', async () => {
    const fake = await start();
    fake.faults.add({ kind: 'timeout', rate: 1, delayMs: 150 });
    const t0 = Date.now();
    await expect(client(fake, { timeout: 2000 }).customers.create({ name: 'slow' })).resolves.toMatchObject({ name: 'slow' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it('drop before the write: the package reconnects once by itself, with the same key, and the write happens once', async () => {
    const fake = await start();
    fake.faults.add({ kind: 'drop', rate: 1, times: 1, applied: false });
    const c = await client(fake).customers.create({ name: 'A' });
    expect(fake.state.customers().map((x) => x.id)).toEqual([c.id]);
    const [first, second] = fake.requests;
    expect([first?.status, first?.fault, first?.executed]).toEqual([null, 'drop', false]);
    expect([second?.status, second?.executed]).toEqual([200, true]);
    expect(second?.idempotencyKey).toBe(first?.idempotencyKey);
  });

  it('drop after the write: the reconnect gets the saved answer, nothing is duplicated', async () => {
    const fake = await start();
    fake.faults.add({ kind: 'drop', rate: 1, times: 1, applied: true });
    const c = await client(fake).customers.create({ name: 'A' });
    expect(fake.state.customers().map((x) => x.id)).toEqual([c.id]);
    expect(fake.requests.map((r) => [r.status, r.executed, r.replayed])).toEqual([
      [null, true, false],
      [200, false, true],
    ]);
  });

  it('drop every time: a StripeConnectionError', async () => {
    const fake = await start();
    fake.faults.add({ kind: 'drop', rate: 1, applied: false, pathPrefix: '/v1/invoiceitems' });
    const stripe = client(fake);
    const c = await stripe.customers.create({});
    const e = await stripeError(stripe.invoiceItems.create({ customer: c.id, amount: 1, currency: 'usd' }));
    expect(e).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(fake.state.invoiceItems()).toHaveLength(0);
  });

  it('500-after-write: the write stands and the key replays its real answer', async () => {
    const fake = await start();
    fake.faults.add({ kind: '500-after-write', rate: 1, times: 1 });
    const stripe = client(fake);
    const e = await stripeError(stripe.customers.create({ name: 'A' }, { idempotencyKey: 'k' }));
    expect(e).toMatchObject({ statusCode: 500 });
    expect(fake.state.customers()).toHaveLength(1);
    const again = await stripe.customers.create({ name: 'A' }, { idempotencyKey: 'k' });
    expect(again.id).toBe(fake.state.customers()[0]?.id);
    expect(fake.state.customers()).toHaveLength(1);
  });

  it('a seed makes the faults repeatable', async () => {
    const pattern = async (seed: number) => {
      const fake = await start({ seed });
      fake.faults.add({ kind: '500', rate: 0.5 });
      const stripe = client(fake);
      const out: boolean[] = [];
      for (let i = 0; i < 16; i++) out.push(await stripe.customers.create({}).then(() => true, () => false));
      return out;
    };
    const a = await pattern(7);
    expect(await pattern(7)).toEqual(a);
    expect(await pattern(8)).not.toEqual(a);
    expect(a.filter(Boolean).length).toBeGreaterThan(2);
    expect(a.filter((x) => !x).length).toBeGreaterThan(2);
  });

  it('the control API sets faults and shows the request log', async () => {
    const fake = await start();
    const put = await fetch(`${fake.url}/_fake/faults`, { method: 'PUT', body: JSON.stringify({ rules: [{ kind: '500', rate: 1, pathPrefix: '/v1/billing' }] }) });
    expect(put.status).toBe(200);
    const stripe = client(fake);
    await stripe.customers.create({});
    expect(await stripeError(stripe.billing.meters.list())).toMatchObject({ statusCode: 500 });
    const log = (await (await fetch(`${fake.url}/_fake/requests`)).json()) as { data: { method: string; path: string; status: number }[] };
    expect(log.data.map((r) => [r.method, r.path, r.status])).toEqual([
      ['POST', '/v1/customers', 200],
      ['GET', '/v1/billing/meters', 500],
    ]);
    const bad = await fetch(`${fake.url}/_fake/faults`, { method: 'POST', body: JSON.stringify({ kind: 'explode', rate: 1 }) });
    expect(bad.status).toBe(400);
    await fetch(`${fake.url}/_fake/faults`, { method: 'DELETE' });
    await expect(stripe.billing.meters.list()).resolves.toMatchObject({ object: 'list' });
  });
});
