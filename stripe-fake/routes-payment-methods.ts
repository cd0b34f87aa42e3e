import { listPage, listParams } from './lists.js';
import { expand, oneOf, optional, str } from './params.js';
import { attach, detach, renderPaymentMethod } from './payment-methods.js';
import { type Ctx, type Route, checkExpand, route } from './router.js';
import { newestFirst } from './store.js';

/**
 * PaymentMethods: attach (an id, or one of Stripe's test tokens, which makes a new card),
 * retrieve, detach, and a customer's list. Creating one from raw card numbers is not modelled:
 * tests use the tokens, as Stripe recommends in test mode.
 */
const cause = (ctx: Ctx) => ({ requestId: ctx.requestId, idempotencyKey: ctx.idempotencyKey });

export const paymentMethodRoutes: Route[] = [
  route(
    'POST',
    '/v1/payment_methods/:id/attach',
    { customer: str(), expand: expand() },
    (ctx, p, path) => {
      checkExpand(p.expand, []);
      const customer = ctx.store.customer(p.customer, 'customer');
      return renderPaymentMethod(attach(ctx.store, ctx.webhooks, path.id ?? '', customer, 'id', cause(ctx)).pm);
    },
    { unsupported: ['customer_account'] },
  ),
  route('POST', '/v1/payment_methods/:id/detach', { expand: expand() }, (ctx, p, path) => {
    checkExpand(p.expand, []);
    const pm = ctx.store.paymentMethod(path.id ?? '', 'id', 404);
    detach(ctx.store, ctx.webhooks, pm, cause(ctx));
    return renderPaymentMethod(pm);
  }),
  route('GET', '/v1/payment_methods/:id', { expand: expand() }, (ctx, p, path) => {
    checkExpand(p.expand, []);
    return renderPaymentMethod(ctx.store.paymentMethod(path.id ?? '', 'id', 404));
  }),
  route(
    'GET',
    '/v1/customers/:id/payment_methods',
    { ...listParams, type: optional(oneOf(['card'] as const)), expand: expand() },
    (ctx, p, path) => {
      checkExpand(p.expand, []);
      const customer = ctx.store.customer(path.id ?? '', 'id', 404).obj;
      const all = newestFirst(ctx.store.paymentMethods.values())
        .filter((e) => e.obj.customer === customer.id)
        .map(renderPaymentMethod);
      return listPage(all, p, `/v1/customers/${customer.id}/payment_methods`, 'payment_method');
    },
    { unsupported: ['allow_redisplay'] },
  ),
];
