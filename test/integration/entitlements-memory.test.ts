import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonRequest, startTestApi, type TestApi } from '../support/api.js';

/**
 * Entitlement checks from a serving node's memory, through the HTTP API with its own refresh
 * loop (TALLY_ENTITLEMENT_CACHE_MS 300 here): a write made through the node shows in its
 * answers at once, and still after the loop has read the usage again.
 */
const DAY = 86_400_000;
let api: TestApi;
let t: { id: string; auth: Record<string, string> };
const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, t.auth, method, path, body);
const check = (feature: string) => call('GET', `/v1/customers/acme/entitlements/${feature}`);
const refreshes = () => new Promise((resolve) => setTimeout(resolve, 1_000));

beforeAll(async () => {
  api = await startTestApi({ env: { TALLY_ENTITLEMENT_CACHE_MS: '300' } });
  t = await api.tenant('memory');
  await call('POST', '/v1/meters', { key: 'exports', name: 'Exports', aggregation: 'count' });
  await call('POST', '/v1/plans', {
    code: 'pro',
    name: 'Pro',
    currency: 'EUR',
    interval: 'month',
    features: [{ key: 'exports', type: 'metered', meter: 'exports', limit: '2', reset: 'day' }],
  });
  await call('POST', '/v1/customers', { id: 'acme', name: 'Acme', currency: 'EUR' });
}, 60_000);
afterAll(async () => {
  await api?.stop();
});

describe('entitlement checks from memory, over HTTP', () => {
  it('a subscription, a time zone and an override written through the node show at once, and after its next reads', async () => {
    const none = await check('exports');
    expect([none.status, none.body.error.code]).toEqual([404, 'TALLY_ERR_FEATURE_NOT_FOUND']);
    expect((await call('POST', '/v1/subscriptions', { customer: 'acme', plan: 'pro', start_date: new Date(Date.now() - DAY).toISOString() })).status).toBe(201);
    expect((await check('exports')).body).toMatchObject({ has_access: true, limit: '2', usage: '0' });
    await refreshes();
    const utc = (await check('exports')).body as { resets_at: string };
    expect(utc.resets_at).toBe(new Date(Math.ceil(Date.now() / DAY) * DAY).toISOString());

    expect((await call('PATCH', '/v1/customers/acme', { timezone: 'Pacific/Kiritimati' })).status).toBe(200);
    const kiritimati = (await check('exports')).body as { resets_at: string };
    // UTC+14: the local day ends at 10:00 UTC.
    expect(new Date(kiritimati.resets_at).getUTCHours()).toBe(10);
    await refreshes();
    expect((await check('exports')).body).toMatchObject({ resets_at: kiritimati.resets_at });

    expect((await call('PUT', '/v1/customers/acme/entitlements/exports/override', { limit: '7' })).status).toBe(200);
    expect((await check('exports')).body).toMatchObject({ limit: '7' });
    await refreshes();
    expect((await check('exports')).body).toMatchObject({ limit: '7' });

    const subs = (await call('GET', '/v1/subscriptions?customer=acme')).body.data as { id: string }[];
    expect((await call('POST', `/v1/subscriptions/${subs[0]!.id}/cancel`, {})).status).toBe(200);
    expect((await check('exports')).status).toBe(404);
    await refreshes();
    expect((await check('exports')).status).toBe(404);
  });
});
