import { jsonBody } from '../http/body.js';
import { actorOf, tenantOf, type Route } from '../http/types.js';
import { json } from '../http/openapi-doc.js';
import { SetVolumeDiscount, type VolumeDiscountService } from './volume-discounts.js';
import { VolumeDiscount } from './openapi.js';

/** `PUT/GET /v1/volume_discount`: the tenant's schedule, replaced whole. */
export function volumeDiscountRoutes(discounts: VolumeDiscountService): Route[] {
  return [
    {
      method: 'PUT',
      pattern: '/v1/volume_discount',
      access: 'tenant',
      doc: {
        operationId: 'setVolumeDiscount',
        tag: 'Discounts',
        summary: "Replace the tenant's volume discount",
        description: '`{"tiers": []}` removes it.',
        body: { name: 'SetVolumeDiscount', schema: SetVolumeDiscount },
        responses: { 200: json('The schedule.', VolumeDiscount) },
        errors: ['TALLY_ERR_TIERS_NOT_ASCENDING'],
      },
      handler: async (req) => ({ status: 200, body: await discounts.set(tenantOf(req), jsonBody(req, SetVolumeDiscount), actorOf(req)) }),
    },
    {
      method: 'GET',
      pattern: '/v1/volume_discount',
      access: 'tenant',
      doc: { operationId: 'getVolumeDiscount', tag: 'Discounts', summary: "The tenant's volume discount", responses: { 200: json('The schedule.', VolumeDiscount) } },
      handler: async (req) => ({ status: 200, body: await discounts.get(tenantOf(req)) }),
    },
  ];
}
