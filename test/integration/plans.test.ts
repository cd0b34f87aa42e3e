import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApi, jsonRequest, startTestApi } from '../support/api.js';

let api: TestApi;
let t: { id: string; key: string; auth: Record<string, string> };
beforeAll(async () => {
  api = await startTestApi();
  t = await api.tenant('plans');
  for (const key of ['api_calls', 'storage_gb', 'seats']) {
    await fetch(`${api.url}/v1/meters`, { method: 'POST', headers: t.auth, body: JSON.stringify({ key, name: key, aggregation: 'sum' }) });
  }
});
afterAll(async () => {
  await api.stop();
});

const call = (method: string, path: string, body?: unknown, auth = t.auth) => jsonRequest(api.url, auth, method, path, body);

const pro = {
  code: 'pro',
  name: 'Professional',
  currency: 'USD',
  interval: 'month',
  base_fee: '199.00',
  trial_days: 14,
  charges: [
    { meter: 'api_calls', model: 'graduated', tiers: [{ up_to: '100000', unit_price: '0' }, { up_to: null, unit_price: '0.0008' }] },
    { meter: 'storage_gb', model: 'per_unit', unit_price: '0.08', included: '1000' },
    { meter: 'seats', model: 'package', unit_price: '10', package_size: '5', round: 'up', minimum: '10', maximum: '500' },
  ],
};

describe('plans', () => {
  it('creates the DESIGN example, with its decimal strings kept exactly', async () => {
    const r = await call('POST', '/v1/plans', pro);
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ ...pro, version: 1, base_fee: '199', billing_mode: 'invoice', credit_allowance: '0', features: [], seat_pricing: null, created_at: expect.any(String) });
    expect((await call('GET', '/v1/plans/pro')).body).toEqual(r.body);
  });

  it('posting the same plan again changes nothing; a change makes the next version; old versions stay readable', async () => {
    const code = 'versioned';
    const v1 = await call('POST', '/v1/plans', { ...pro, code });
    expect(v1.body.version).toBe(1);
    const same = await call('POST', '/v1/plans', { ...pro, code, base_fee: '199' });
    expect(same.status).toBe(200);
    expect(same.body.version).toBe(1);
    const v2 = await call('POST', '/v1/plans', { ...pro, code, base_fee: '249.00' });
    expect(v2.status).toBe(201);
    expect(v2.body).toMatchObject({ version: 2, base_fee: '249' });
    expect((await call('GET', `/v1/plans/${code}`)).body.version).toBe(2);
    expect((await call('GET', `/v1/plans/${code}?version=1`)).body).toMatchObject({ version: 1, base_fee: '199' });
    expect((await call('GET', `/v1/plans/${code}?version=3`)).status).toBe(404);
    const list = await call('GET', '/v1/plans');
    expect((list.body.data as { code: string; version: number }[]).find((p) => p.code === code)?.version).toBe(2);
  });

  it('every model and option validates', async () => {
    const r = await call('POST', '/v1/plans', {
      code: 'all_models',
      name: 'All',
      currency: 'jpy',
      interval: 'year',
      charges: [
        { meter: 'api_calls', model: 'volume', tiers: [{ up_to: '10', unit_price: '1', flat_fee: '5' }, { up_to: null, unit_price: '0.5' }] },
        { meter: 'storage_gb', model: 'graduated', tiers: [{ up_to: '0.5', unit_price: '0.000000000001', flat_fee: '0' }, { up_to: null, unit_price: '2' }] },
        { meter: 'seats', model: 'per_unit', unit_price: '3', included: '2.000001', minimum: '0', maximum: '0' },
      ],
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ currency: 'JPY', interval: 'year', base_fee: '0', trial_days: 0 });
  });

  const charge = (patch: Record<string, unknown>) => ({ code: 'bad', name: 'Bad', currency: 'USD', interval: 'month', charges: [{ meter: 'api_calls', model: 'per_unit', unit_price: '1', ...patch }] });
  const tiered = (tiers: unknown[]) => charge({ model: 'graduated', unit_price: undefined, tiers });
  it.each([
    ['an unknown currency', { ...pro, code: 'x1', currency: 'XYZ' }, 'TALLY_ERR_CURRENCY_INVALID', 'currency'],
    ['an interval of a week', { ...pro, code: 'x2', interval: 'week' }, 'TALLY_ERR_INVALID_VALUE', 'interval'],
    ['a negative base fee', { ...pro, code: 'x3', base_fee: '-1' }, 'TALLY_ERR_PRICE_NEGATIVE', 'base_fee'],
    ['a base fee that is a number', { ...pro, code: 'x4', base_fee: 199 }, 'TALLY_ERR_INVALID_TYPE', 'base_fee'],
    ['a price with 13 decimals', charge({ unit_price: '0.0000000000001' }), 'TALLY_ERR_PRICE_TOO_PRECISE', 'charges[0].unit_price'],
    ['a price that is not a decimal', charge({ unit_price: '1e-3' }), 'TALLY_ERR_PRICE_INVALID', 'charges[0].unit_price'],
    ['a negative price', charge({ unit_price: '-0.5' }), 'TALLY_ERR_PRICE_NEGATIVE', 'charges[0].unit_price'],
    // Any quantity below 10^20 times it must fit the rated amounts (below 10^32).
    ['a price of 10^12', charge({ unit_price: '1000000000000' }), 'TALLY_ERR_PRICE_INVALID', 'charges[0].unit_price'],
    ['a tier price of 25 digits', tiered([{ up_to: '10', unit_price: '1' }, { up_to: null, unit_price: '9999999999999999999999999' }]), 'TALLY_ERR_PRICE_INVALID', 'charges[0].tiers[1].unit_price'],
    ['a tier up to 10^20', tiered([{ up_to: '100000000000000000000', unit_price: '1' }, { up_to: null, unit_price: '1' }]), 'TALLY_ERR_QUANTITY_INVALID', 'charges[0].tiers[0].up_to'],
    ['an included quantity with 7 decimals', charge({ included: '1.0000001' }), 'TALLY_ERR_QUANTITY_TOO_PRECISE', 'charges[0].included'],
    ['a negative included quantity', charge({ included: '-1' }), 'TALLY_ERR_QUANTITY_INVALID', 'charges[0].included'],
    ['tiers not ascending', tiered([{ up_to: '100', unit_price: '1' }, { up_to: '100', unit_price: '1' }, { up_to: null, unit_price: '1' }]), 'TALLY_ERR_TIERS_NOT_ASCENDING', 'charges[0].tiers[1].up_to'],
    ['a first tier up to 0', tiered([{ up_to: '0', unit_price: '1' }, { up_to: null, unit_price: '1' }]), 'TALLY_ERR_TIERS_NOT_ASCENDING', 'charges[0].tiers[0].up_to'],
    ['an open tier before the last', tiered([{ up_to: null, unit_price: '1' }, { up_to: '100', unit_price: '1' }]), 'TALLY_ERR_TIER_OPEN_ENDED', 'charges[0].tiers[0].up_to'],
    ['a closed last tier', tiered([{ up_to: '100', unit_price: '1' }]), 'TALLY_ERR_TIER_OPEN_ENDED', 'charges[0].tiers[0].up_to'],
    ['a graduated charge without tiers', charge({ model: 'graduated', unit_price: undefined }), 'TALLY_ERR_CHARGE_MODEL_FIELDS', 'charges[0].tiers'],
    ['a per_unit charge with tiers', charge({ tiers: [{ up_to: null, unit_price: '1' }] }), 'TALLY_ERR_CHARGE_MODEL_FIELDS', 'charges[0].tiers'],
    ['a per_unit charge without a price', charge({ unit_price: undefined }), 'TALLY_ERR_CHARGE_MODEL_FIELDS', 'charges[0].unit_price'],
    ['a package charge of size 0', charge({ model: 'package', package_size: '0' }), 'TALLY_ERR_CHARGE_MODEL_FIELDS', 'charges[0].package_size'],
    ['rounding on a per_unit charge', charge({ round: 'up' }), 'TALLY_ERR_CHARGE_MODEL_FIELDS', 'charges[0].round'],
    ['an unknown model', charge({ model: 'tiered' }), 'TALLY_ERR_INVALID_VALUE', 'charges[0].model'],
    ['a minimum above the maximum', charge({ minimum: '10', maximum: '5' }), 'TALLY_ERR_MINIMUM_ABOVE_MAXIMUM', 'charges[0].minimum'],
    ['two charges on one meter', { ...pro, code: 'x5', charges: [pro.charges[1], pro.charges[1]] }, 'TALLY_ERR_DUPLICATE_CHARGE', 'charges[1].meter'],
    ['a meter that does not exist', charge({ meter: 'nope' }), 'TALLY_ERR_METER_NOT_FOUND', 'charges[0].meter'],
    ['a meter that no meter key could be', charge({ meter: 'bad key!! é' }), 'TALLY_ERR_INVALID_VALUE', 'charges[0].meter'],
    ['trial days that are negative', { ...pro, code: 'x6', trial_days: -1 }, 'TALLY_ERR_INVALID_VALUE', 'trial_days'],
    ['a missing interval (an enum)', { ...pro, code: 'x7', interval: undefined }, 'TALLY_ERR_MISSING_FIELD', 'interval'],
    ['a charge without its model', charge({ model: undefined }), 'TALLY_ERR_MISSING_FIELD', 'charges[0].model'],
    ['an unknown field on a charge', charge({ discount: '5' }), 'TALLY_ERR_UNKNOWN_FIELD', 'charges[0].discount'],
  ])('refuses %s with its own code, and stores nothing', async (_what, body, code, field) => {
    const r = await call('POST', '/v1/plans', body);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code, field });
    expect((await call('GET', `/v1/plans/${(body as { code: string }).code}`)).status).toBe(404);
  });

  it("another tenant's plans are invisible, and its meters do not count", async () => {
    const other = await api.tenant('other');
    expect((await call('GET', '/v1/plans/pro', undefined, other.auth)).status).toBe(404);
    expect((await call('GET', '/v1/plans', undefined, other.auth)).body.data).toEqual([]);
    const r = await call('POST', '/v1/plans', { ...pro, code: 'theirs' }, other.auth);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('TALLY_ERR_METER_NOT_FOUND');
  });
});
