import { TallyError } from '../core/errors.js';
import { jsonBody } from '../http/body.js';
import { actorOf, tenantOf, type Route } from '../http/types.js';
import { json } from '../http/openapi-doc.js';
import { CreateCoupon, RedeemCoupon, type CouponService } from './coupons.js';
import { Coupon, CouponList, Redemption, SUBSCRIPTION_ID } from './openapi.js';

/** `POST/GET /v1/coupons`, `GET /v1/coupons/:code`, `POST /v1/subscriptions/:id/coupons` (redeem). */
export function couponRoutes(coupons: CouponService, clock: () => number = Date.now): Route[] {
  return [
    {
      method: 'POST',
      pattern: '/v1/coupons',
      access: 'tenant',
      doc: {
        operationId: 'createCoupon',
        tag: 'Discounts',
        summary: 'Create a coupon',
        body: { name: 'CreateCoupon', schema: CreateCoupon },
        responses: { 201: json('The coupon.', Coupon) },
        errors: ['TALLY_ERR_ALREADY_EXISTS', 'TALLY_ERR_CURRENCY_INVALID'],
      },
      handler: async (req) => ({ status: 201, body: await coupons.create(tenantOf(req), jsonBody(req, CreateCoupon)) }),
    },
    {
      method: 'GET',
      pattern: '/v1/coupons',
      access: 'tenant',
      doc: { operationId: 'listCoupons', tag: 'Discounts', summary: 'List coupons', responses: { 200: json('Every coupon.', CouponList) } },
      handler: async (req) => ({ status: 200, body: { data: await coupons.list(tenantOf(req)) } }),
    },
    {
      method: 'GET',
      pattern: '/v1/coupons/:code',
      access: 'tenant',
      doc: { operationId: 'getCoupon', tag: 'Discounts', summary: 'Get a coupon', path: { code: 'The coupon code.' }, responses: { 200: json('The coupon.', Coupon) } },
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
      doc: {
        operationId: 'redeemCoupon',
        tag: 'Discounts',
        summary: 'Redeem a coupon on a subscription',
        body: { name: 'RedeemCoupon', schema: RedeemCoupon },
        path: SUBSCRIPTION_ID,
        responses: { 201: json('The redemption.', Redemption) },
        errors: ['TALLY_ERR_COUPON_NOT_FOUND', 'TALLY_ERR_COUPON_EXPIRED', 'TALLY_ERR_COUPON_EXHAUSTED', 'TALLY_ERR_COUPON_NOT_APPLICABLE', 'TALLY_ERR_CURRENCY_MISMATCH', 'TALLY_ERR_ALREADY_EXISTS', 'TALLY_ERR_INVALID_TRANSITION'],
      },
      handler: async (req) => ({ status: 201, body: await coupons.redeem(tenantOf(req), req.params.id!, jsonBody(req, RedeemCoupon).coupon, actorOf(req), new Date(clock())) }),
    },
  ];
}
