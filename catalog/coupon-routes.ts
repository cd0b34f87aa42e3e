import { TallyError } from '../core/errors.js';
import { jsonBody } from '../http/body.js';
import { actorOf, tenantOf, type Route } from '../http/types.js';
import { CreateCoupon, RedeemCoupon, type CouponService } from './coupons.js';

/** `POST/GET /v1/coupons`, `GET /v1/coupons/:code`, `POST /v1/subscriptions/:id/coupons` (redeem). */
export function couponRoutes(coupons: CouponService, clock: () => number = Date.now): Route[] {
  return [
    { method: 'POST', pattern: '/v1/coupons', access: 'tenant', handler: async (req) => ({ status: 201, body: await coupons.create(tenantOf(req), jsonBody(req, CreateCoupon)) }) },
    { method: 'GET', pattern: '/v1/coupons', access: 'tenant', handler: async (req) => ({ status: 200, body: { data: await coupons.list(tenantOf(req)) } }) },
    {
      method: 'GET',
      pattern: '/v1/coupons/:code',
      access: 'tenant',
      handler: async (req) => {
        const c = await coupons.get(tenantOf(req), req.params.code!);
        if (c === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', `no coupon ${JSON.stringify(req.params.code)}`, { field: 'code' });
        return { status: 200, body: c };
      },
    },
    {
      method: 'POST',
      pattern: '/v1/subscriptions/:id/coupons',
      access: 'tenant',
      handler: async (req) => ({ status: 201, body: await coupons.redeem(tenantOf(req), req.params.id!, jsonBody(req, RedeemCoupon).coupon, actorOf(req), new Date(clock())) }),
    },
  ];
}
