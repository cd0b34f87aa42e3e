import { TallyError } from '../core/errors.js';
import { jsonBody } from '../http/body.js';
import { tenantOf, type Route } from '../http/types.js';
import { json } from '../http/openapi-doc.js';
import { CreateMeter, UpdateMeter, type MeterRepository, type UpdateMeterInput } from './meters.js';
import { Meter, MeterList } from './openapi.js';

/** `POST/GET /v1/meters`, `GET/PATCH /v1/meters/:key`, all scoped to the calling tenant. */
export function meterRoutes(meters: MeterRepository): Route[] {
  const notFound = (key: string) => new TallyError('TALLY_ERR_NOT_FOUND', `no meter with key ${JSON.stringify(key)}`, { field: 'key' });
  return [
    {
      method: 'POST',
      pattern: '/v1/meters',
      access: 'tenant',
      doc: {
        operationId: 'createMeter',
        tag: 'Meters',
        summary: 'Define a meter',
        body: { name: 'CreateMeter', schema: CreateMeter },
        responses: { 201: json('The meter.', Meter) },
        errors: ['TALLY_ERR_ALREADY_EXISTS'],
      },
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
      doc: { operationId: 'listMeters', tag: 'Meters', summary: 'List meters', responses: { 200: json('Every meter.', MeterList) } },
      handler: async (req) => ({ status: 200, body: { data: await meters.list(tenantOf(req)), has_more: false } }),
    },
    {
      method: 'GET',
      pattern: '/v1/meters/:key',
      access: 'tenant',
      doc: { operationId: 'getMeter', tag: 'Meters', summary: 'Get a meter', path: { key: 'The meter key.' }, responses: { 200: json('The meter.', Meter) } },
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
      doc: {
        operationId: 'updateMeter',
        tag: 'Meters',
        summary: "Change a meter's name or unit",
        description: 'The rule of a meter (`aggregation`, `value_property`, `group_by`) never changes: `TALLY_ERR_IMMUTABLE_FIELD`.',
        body: { name: 'UpdateMeter', schema: UpdateMeter },
        path: { key: 'The meter key.' },
        responses: { 200: json('The meter.', Meter) },
        errors: ['TALLY_ERR_IMMUTABLE_FIELD'],
      },
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
