import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { minorUnits } from '../../core/currency.js';
import { type TestApi, jsonRequest, startTestApi } from '../support/api.js';
import type { PostgresStore, Queryable } from '../../core/postgres.js';
import { pgCustomerRepository } from '../../catalog/customers.js';
import { SubscriptionService } from '../../catalog/subscriptions.js';

let api: TestApi;
let t: { id: string; key: string; auth: Record<string, string> };
beforeAll(async () => {
  api = await startTestApi();
  t = await api.tenant('customers');
});
afterAll(async () => {
  await api.stop();
});

const call = (method: string, path: string, body?: unknown, auth = t.auth) => jsonRequest(api.url, auth, method, path, body);

describe('customers', () => {
  it('creates one with every field, normalised, and reads it back', async () => {
    const r = await call('POST', '/v1/customers', {
      id: 'acme',
      name: ' Acme Inc ',
      email: 'billing@acme.example',
      currency: 'usd',
      country: 'de',
      address: { line1: 'Königsallee 92', city: 'Düsseldorf', postal_code: '40212', country: 'de' },
      locale: 'de-de',
      timezone: 'europe/berlin',
      tax_exempt: true,
      stripe_customer_id: 'cus_123',
      metadata: { plan: 'gold' },
    });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({
      id: 'acme',
      name: 'Acme Inc',
      email: 'billing@acme.example',
      currency: 'USD',
      country: 'DE',
      region: null,
      address: { line1: 'Königsallee 92', city: 'Düsseldorf', postal_code: '40212', country: 'DE' },
      locale: 'de-DE',
      timezone: 'Europe/Berlin',
      tax_exempt: true,
      collection_method: 'charge_automatically',
      days_until_due: null,
      purchase_order: null,
      stripe_customer_id: 'cus_123',
      metadata: { plan: 'gold' },
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect((await call('GET', '/v1/customers/acme')).body).toEqual(r.body);
  });

  it('defaults the optional fields', async () => {
    const r = await call('POST', '/v1/customers', { id: 'min', name: 'Minimal', currency: 'JPY' });
    expect(r.body).toMatchObject({ email: null, country: null, tax_exempt: false, stripe_customer_id: null, metadata: {} });
  });

  it('an id already taken is a 409', async () => {
    await call('POST', '/v1/customers', { id: 'dup', name: 'A', currency: 'EUR' });
    const r = await call('POST', '/v1/customers', { id: 'dup', name: 'B', currency: 'EUR' });
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'TALLY_ERR_ALREADY_EXISTS', field: 'id' });
  });

  it.each([
    ['no id', { name: 'x', currency: 'USD' }, 'TALLY_ERR_MISSING_FIELD', 'id'],
    ['an id with a newline', { id: 'a\nb', name: 'x', currency: 'USD' }, 'TALLY_ERR_INVALID_VALUE', 'id'],
    ['an id too long', { id: 'x'.repeat(257), name: 'x', currency: 'USD' }, 'TALLY_ERR_TOO_LONG', 'id'],
    ['no name', { id: 'n1', currency: 'USD' }, 'TALLY_ERR_MISSING_FIELD', 'name'],
    ['no currency', { id: 'n2', name: 'x' }, 'TALLY_ERR_MISSING_FIELD', 'currency'],
    ['an unknown currency', { id: 'n3', name: 'x', currency: 'ABC' }, 'TALLY_ERR_INVALID_VALUE', 'currency'],
    ['a currency that is not a code', { id: 'n4', name: 'x', currency: 'dollars' }, 'TALLY_ERR_INVALID_VALUE', 'currency'],
    ['an unknown country', { id: 'n5', name: 'x', currency: 'USD', country: 'XX' }, 'TALLY_ERR_INVALID_VALUE', 'country'],
    ['a three-letter country', { id: 'n6', name: 'x', currency: 'USD', country: 'DEU' }, 'TALLY_ERR_INVALID_VALUE', 'country'],
    ['an email without @', { id: 'n7', name: 'x', currency: 'USD', email: 'billing.acme.example' }, 'TALLY_ERR_INVALID_VALUE', 'email'],
    ['tax_exempt as text', { id: 'n8', name: 'x', currency: 'USD', tax_exempt: 'yes' }, 'TALLY_ERR_INVALID_TYPE', 'tax_exempt'],
    ['a Stripe id of another kind', { id: 'n9', name: 'x', currency: 'USD', stripe_customer_id: 'sub_1' }, 'TALLY_ERR_INVALID_VALUE', 'stripe_customer_id'],
    ['a metadata value that is a number', { id: 'n10', name: 'x', currency: 'USD', metadata: { a: 1 } }, 'TALLY_ERR_INVALID_TYPE', 'metadata.a'],
    ['a metadata key of 41 characters', { id: 'n11', name: 'x', currency: 'USD', metadata: { ['k'.repeat(41)]: 'v' } }, 'TALLY_ERR_INVALID_VALUE', `metadata.${'k'.repeat(41)}`],
    ['a metadata value of 501 characters', { id: 'n12', name: 'x', currency: 'USD', metadata: { k: 'v'.repeat(501) } }, 'TALLY_ERR_TOO_LONG', 'metadata.k'],
    ['51 metadata keys', { id: 'n13', name: 'x', currency: 'USD', metadata: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])) }, 'TALLY_ERR_INVALID_VALUE', 'metadata'],
    ['an unknown field', { id: 'n14', name: 'x', currency: 'USD', plan: 'pro' }, 'TALLY_ERR_UNKNOWN_FIELD', 'plan'],
    ['an unknown collection method', { id: 'n15', name: 'x', currency: 'USD', collection_method: 'cheque' }, 'TALLY_ERR_INVALID_VALUE', 'collection_method'],
    ['net terms without send_invoice', { id: 'n16', name: 'x', currency: 'USD', days_until_due: 30 }, 'TALLY_ERR_INVALID_VALUE', 'days_until_due'],
    ['net terms of a fraction of a day', { id: 'n17', name: 'x', currency: 'USD', collection_method: 'send_invoice', days_until_due: 1.5 }, 'TALLY_ERR_INVALID_TYPE', 'days_until_due'],
    ['net terms over a year', { id: 'n18', name: 'x', currency: 'USD', collection_method: 'send_invoice', days_until_due: 366 }, 'TALLY_ERR_INVALID_VALUE', 'days_until_due'],
    ['net terms as text', { id: 'n19', name: 'x', currency: 'USD', collection_method: 'send_invoice', days_until_due: '30' }, 'TALLY_ERR_INVALID_TYPE', 'days_until_due'],
  ])('refuses %s, and stores nothing', async (_what, body, code, field) => {
    const r = await call('POST', '/v1/customers', body);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code, field });
    if (typeof (body as { id?: unknown }).id === 'string') expect((await call('GET', `/v1/customers/${encodeURIComponent((body as { id: string }).id)}`)).status).toBe(404);
  });

  it('updates details and merges metadata the Stripe way ("" removes a key)', async () => {
    await call('POST', '/v1/customers', { id: 'upd', name: 'Before', currency: 'EUR', email: 'a@b.example', metadata: { keep: '1', drop: '2' } });
    const r = await call('PATCH', '/v1/customers/upd', { name: 'After', email: null, country: 'fr', tax_exempt: true, metadata: { drop: '', add: '3' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ name: 'After', email: null, country: 'FR', tax_exempt: true, currency: 'EUR', metadata: { keep: '1', add: '3' } });
    expect(Date.parse(r.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(r.body.created_at));
  });

  it('holds the 50-key metadata limit on the merged result: a PATCH that would pass it is refused and changes nothing', async () => {
    const keys = (prefix: string, n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, 'v']));
    await call('POST', '/v1/customers', { id: 'meta50', name: 'Before', currency: 'EUR' });
    expect((await call('PATCH', '/v1/customers/meta50', { metadata: keys('a', 31) })).status).toBe(200);
    // 31 + 31 keys: each request alone is within the limit, together they are not.
    const refused = await call('PATCH', '/v1/customers/meta50', { name: 'After', metadata: keys('b', 31) });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: 'metadata' });
    const after = (await call('GET', '/v1/customers/meta50')).body;
    expect(after.name).toBe('Before');
    expect(after.metadata).toEqual(keys('a', 31));
    // Removing keys in the same PATCH counts: 31 - 12 + 31 = 50 is allowed, one more is not.
    const dropped = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`a${i}`, '']));
    const fifty = await call('PATCH', '/v1/customers/meta50', { metadata: { ...dropped, ...keys('b', 31) } });
    expect(fifty.status).toBe(200);
    expect(Object.keys(fifty.body.metadata)).toHaveLength(50);
    expect((await call('PATCH', '/v1/customers/meta50', { metadata: { c: 'v' } })).body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: 'metadata' });
    // Changing a key already set adds none.
    expect((await call('PATCH', '/v1/customers/meta50', { metadata: { b0: 'w' } })).body.metadata).toMatchObject({ b0: 'w' });
  });

  it('collection terms: send_invoice defaults to Net 30, keeps its days, and charge_automatically drops them', async () => {
    const created = await call('POST', '/v1/customers', { id: 'net', name: 'Net', currency: 'EUR', collection_method: 'send_invoice' });
    expect(created.body).toMatchObject({ collection_method: 'send_invoice', days_until_due: 30 });
    expect((await call('PATCH', '/v1/customers/net', { days_until_due: 60 })).body).toMatchObject({ collection_method: 'send_invoice', days_until_due: 60 });
    expect((await call('PATCH', '/v1/customers/net', { name: 'Net Co' })).body).toMatchObject({ collection_method: 'send_invoice', days_until_due: 60 });
    expect((await call('PATCH', '/v1/customers/net', { collection_method: 'charge_automatically' })).body).toMatchObject({ collection_method: 'charge_automatically', days_until_due: null });
    // Days alone for a customer who is charged automatically mean nothing: refused, nothing changed.
    const refused = await call('PATCH', '/v1/customers/net', { days_until_due: 15 });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: 'days_until_due' });
    expect((await call('PATCH', '/v1/customers/net', { collection_method: 'send_invoice', days_until_due: 15 })).body).toMatchObject({ collection_method: 'send_invoice', days_until_due: 15 });
    const both = await call('PATCH', '/v1/customers/net', { collection_method: 'charge_automatically', days_until_due: 15 });
    expect(both.body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: 'days_until_due' });
    expect((await call('GET', '/v1/customers/net')).body).toMatchObject({ collection_method: 'send_invoice', days_until_due: 15 });
  });

  it.each([
    ['currency', { currency: 'USD' }, 'TALLY_ERR_IMMUTABLE_FIELD'],
    ['id', { id: 'other' }, 'TALLY_ERR_IMMUTABLE_FIELD'],
    ['an unknown field', { plan: 'x' }, 'TALLY_ERR_UNKNOWN_FIELD'],
  ])('PATCH refuses to change %s', async (field, body, code) => {
    await call('POST', '/v1/customers', { id: `imm_${field.replace(/ /g, '_')}`, name: 'I', currency: 'EUR' });
    const r = await call('PATCH', `/v1/customers/imm_${field.replace(/ /g, '_')}`, body);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe(code);
    expect((await call('GET', `/v1/customers/imm_${field.replace(/ /g, '_')}`)).body.currency).toBe('EUR');
  });

  it('a billing address and a document locale: checked, canonical, changed and removed', async () => {
    await call('POST', '/v1/customers', { id: 'loc', name: 'Loc', currency: 'EUR' });
    for (const [body, field] of [
      [{ locale: 'not a locale' }, 'locale'],
      [{ locale: 'en_US' }, 'locale'],
      [{ locale: 12 }, 'locale'],
      [{ address: { line1: 'x', city: 'y', postal_code: '1', country: 'XX' } }, 'address.country'],
      [{ address: { line1: 'x', city: 'y', country: 'DE' } }, 'address.postal_code'],
      [{ address: { line1: 'a\u0000b', city: 'y', postal_code: '1', country: 'DE' } }, 'address.line1'],
      [{ address: { line1: 'x', city: 'y', postal_code: '1', country: 'DE', extra: 1 } }, 'address.extra'],
      [{ address: { line1: 'a\u0085b', city: 'y', postal_code: '1', country: 'DE' } }, 'address.line1'],
      [{ address: { line1: 'x', city: '\u202eevil', postal_code: '1', country: 'DE' } }, 'address.city'],
      [{ email: 'a,b@c.com' }, 'email'],
      [{ email: 'Evil<attacker@evil.com>' }, 'email'],
      [{ email: 'g:victim@x.com;' }, 'email'],
    ] as const) {
      const r = await call('PATCH', '/v1/customers/loc', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.field, JSON.stringify(body)).toBe(field);
    }
    expect((await call('PATCH', '/v1/customers/loc', { locale: 'PT-br', address: { line1: 'Av. Paulista 1000', city: 'São Paulo', postal_code: '01310-100', state: 'SP', country: 'br' } })).body).toMatchObject({
      locale: 'pt-BR',
      address: { line1: 'Av. Paulista 1000', city: 'São Paulo', postal_code: '01310-100', state: 'SP', country: 'BR' },
    });
    expect((await call('PATCH', '/v1/customers/loc', { locale: null, address: null })).body).toMatchObject({ locale: null, address: null });
  });

  it('lists by id, page by page', async () => {
    const other = await api.tenant('lister');
    for (const id of ['c', 'a', 'e', 'b', 'd']) await call('POST', '/v1/customers', { id, name: id, currency: 'USD' }, other.auth);
    const first = await call('GET', '/v1/customers?limit=2', undefined, other.auth);
    expect((first.body.data as { id: string }[]).map((c) => c.id)).toEqual(['a', 'b']);
    expect(first.body.has_more).toBe(true);
    const rest = await call('GET', '/v1/customers?limit=10&starting_after=b', undefined, other.auth);
    expect((rest.body.data as { id: string }[]).map((c) => c.id)).toEqual(['c', 'd', 'e']);
    expect(rest.body.has_more).toBe(false);
    expect((await call('GET', '/v1/customers?limit=0', undefined, other.auth)).status).toBe(400);
    // Digits only: what Number() would also read is refused.
    for (const limit of ['0x10', '%201', '1e2', '2.0', '-1']) {
      expect((await call('GET', `/v1/customers?limit=${limit}`, undefined, other.auth)).body.error, limit).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: 'limit' });
    }
  });

  it('deletes: then 404, gone from lists, and the id stays taken', async () => {
    await call('POST', '/v1/customers', { id: 'gone', name: 'G', currency: 'USD' });
    expect((await call('DELETE', '/v1/customers/gone')).body).toEqual({ id: 'gone', deleted: true });
    expect((await call('GET', '/v1/customers/gone')).status).toBe(404);
    expect((await call('PATCH', '/v1/customers/gone', { name: 'x' })).status).toBe(404);
    expect((await call('DELETE', '/v1/customers/gone')).status).toBe(404);
    for (const sub of ['credits', 'credits/ledger', 'balance', 'entitlements']) expect((await call('GET', `/v1/customers/gone/${sub}`)).status, sub).toBe(404);
    expect((await call('POST', '/v1/customers', { id: 'gone', name: 'G', currency: 'USD' })).status).toBe(409);
  });

  it("another tenant's customers are invisible on every route", async () => {
    const other = await api.tenant('intruder');
    await call('POST', '/v1/customers', { id: 'secret', name: 'Mine', currency: 'USD' });
    expect((await call('GET', '/v1/customers/secret', undefined, other.auth)).status).toBe(404);
    expect((await call('PATCH', '/v1/customers/secret', { name: 'x' }, other.auth)).status).toBe(404);
    expect((await call('DELETE', '/v1/customers/secret', undefined, other.auth)).status).toBe(404);
    expect((await call('GET', '/v1/customers', undefined, other.auth)).body.data).toEqual([]);
    expect((await call('GET', '/v1/customers/secret')).body.name).toBe('Mine');
  });
});

describe('a customer deleted while a subscription is made for it', () => {
  it('ends with one or the other, never a live subscription on a deleted customer', async () => {
    await call('POST', '/v1/plans', { code: 'race', name: 'Race', currency: 'EUR', interval: 'month', base_fee: '10' });
    await call('POST', '/v1/customers', { id: 'racer', name: 'Racer', currency: 'EUR' });
    const pg = api.stores.postgres;
    // The subscription's transaction pauses once it has read the customer.
    let read!: () => void;
    const customerRead = new Promise<void>((r) => (read = r));
    let resume!: () => void;
    const resumed = new Promise<void>((r) => (resume = r));
    const paused: PostgresStore = {
      ...pg,
      query: pg.query.bind(pg),
      transaction: (fn) =>
        pg.transaction((tx) =>
          fn({
            query: async (text: string, params?: readonly unknown[]) => {
              const r = await tx.query(text, params);
              if (text.includes('FROM customers')) {
                read();
                await resumed;
              }
              return r;
            },
          } as Queryable),
        ),
    };
    const creating = new SubscriptionService(paused).create(t.id, { customer: 'racer', plan: 'race' }, 'test', new Date());
    await customerRead;
    const removing = pgCustomerRepository(pg).remove(t.id, 'racer').then(
      (removed) => ({ removed }),
      (e: unknown) => ({ refused: (e as { code?: string }).code }),
    );
    await new Promise((r) => setTimeout(r, 300));
    resume();
    expect((await creating).status).toBe('active');
    expect(await removing).toEqual({ refused: 'TALLY_ERR_INVALID_TRANSITION' });
    const { rows } = await pg.query<{ deleted: boolean; live: number }>(
      `SELECT c.deleted_at IS NOT NULL AS deleted, (SELECT count(*)::int FROM subscriptions s WHERE s.tenant_id = c.tenant_id AND s.customer_id = c.id) AS live
         FROM customers c WHERE c.tenant_id = $1 AND c.id = 'racer'`,
      [t.id],
    );
    expect(rows[0]).toEqual({ deleted: false, live: 1 });
  });
});

describe('currencies', () => {
  it.each([
    ['USD', 2],
    ['EUR', 2],
    ['BRL', 2],
    ['MXN', 2],
    ['JPY', 0],
    ['KRW', 0],
    ['BHD', 3],
    ['IQD', 3],
    ['CLF', 4],
  ])('%s has %i minor units', (code, units) => {
    expect(minorUnits(code)).toBe(units);
  });
});
