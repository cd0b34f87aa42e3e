import { TallyError } from '../core/errors.js';
import { jsonBody } from '../http/body.js';
import { tenantOf, type Route } from '../http/types.js';
import { CreateMeter, UpdateMeter, type MeterRepository, type UpdateMeterInput } from './meters.js';

/** `POST/GET /v1/meters`, `GET/PATCH /v1/meters/:key`, all scoped to the calling tenant. */
export function meterRoutes(meters: MeterRepository): Route[] {
  const notFound = (key: string) => new TallyError('TALLY_ERR_NOT_FOUND', `no meter with key ${JSON.stringify(key)}`, { field: 'key' });
  return [
    {
      method: 'POST',
      pattern: '/v1/meters',
      access: 'tenant',
      handler: async (req) => {
        const input = jsonBody(req, CreateMeter);
        const meter = await meters.create(tenantOf(req), input);
        if (meter === undefined) {
          throw new TallyError('TALLY_ERR_ALREADY_EXISTS', `a meter with key ${JSON.stringify(input.key)} already exists`, { field: 'key' });
        }
        return { status: 201, body: meter };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/meters',
      access: 'tenant',
      handler: async (req) => ({ status: 200, body: { data: await meters.list(tenantOf(req)), has_more: false } }),
    },
    {
      method: 'GET',
      pattern: '/v1/meters/:key',
      access: 'tenant',
      handler: async (req) => {
        const key = req.params.key!;
        const meter = await meters.get(tenantOf(req), key);
        if (meter === undefined) throw notFound(key);
        return { status: 200, body: meter };
      },
    },
    {
      method: 'PATCH',
      pattern: '/v1/meters/:key',
      access: 'tenant',
      handler: async (req) => {
        const key = req.params.key!;
        const input = jsonBody(req, UpdateMeter) as UpdateMeterInput;
        const meter = await meters.update(tenantOf(req), key, { name: input.name, unit: input.unit });
        if (meter === undefined) throw notFound(key);
        return { status: 200, body: meter };
      },
    },
  ];
}
