import { jsonBody } from '../http/body.js';
import { actorOf, tenantOf, type Route } from '../http/types.js';
import { SetVolumeDiscount, type VolumeDiscountService } from './volume-discounts.js';

/** `PUT/GET /v1/volume_discount`: the tenant's schedule, replaced whole. */
export function volumeDiscountRoutes(discounts: VolumeDiscountService): Route[] {
  return [
    { method: 'PUT', pattern: '/v1/volume_discount', access: 'tenant', handler: async (req) => ({ status: 200, body: await discounts.set(tenantOf(req), jsonBody(req, SetVolumeDiscount), actorOf(req)) }) },
    { method: 'GET', pattern: '/v1/volume_discount', access: 'tenant', handler: async (req) => ({ status: 200, body: await discounts.get(tenantOf(req)) }) },
  ];
}
