import Stripe from 'stripe';
import { z } from 'zod';
import { TallyError } from '../core/errors.js';
import type { PostgresStore } from '../core/postgres.js';
import type { Logger } from '../core/log.js';
import { jsonBody } from '../http/body.js';
import { json } from '../http/openapi-doc.js';
import { obj, shape, str } from '../http/openapi-shapes.js';
import { tenantOf, type Route } from '../http/types.js';
import { ensureStripeCustomer, NoSuchCustomer } from './customers.js';
import { errorClass, isRetryable, type StripeGateway } from './gateway.js';

/**
 * `POST /v1/customers/:id/payment_method_link`: a Stripe-hosted page (a billing-portal session)
 * where the customer adds or changes the payment method Stripe charges their invoices with.
 * Tally never sees card data: the customer gives it to Stripe, which makes it the default
 * payment method of their invoices, and the next collection attempt charges it.
 *
 * The Stripe customer is created first if the customer has none yet (once: the same step as
 * billing sync's). A session is short-lived, so call this when the customer is about to use it
 * (from a "Billing" page of your product) rather than mailing the link days ahead.
 */
export const PaymentMethodLinkBody = z.strictObject({
  // As given, with nothing a URL parser would quietly drop (spaces, tabs, control characters):
  // Stripe takes the string as it is.
  return_url: z
    .string()
    .max(2048)
    .regex(/^https?:\/\/[^\s\u0000-\u001f\u007f]+$/i, 'must be an http(s) URL without spaces or control characters, where Stripe sends the customer back')
    .refine((u) => {
      try {
        return ['http:', 'https:'].includes(new URL(u).protocol);
      } catch {
        return false;
      }
    }, 'must be an http(s) URL, where Stripe sends the customer back'),
});

const PaymentMethodLink = shape(
  'PaymentMethodLink',
  obj({ url: str('The Stripe-hosted page; short-lived.'), customer: str(), stripe_customer_id: str() }),
);

export interface PaymentMethodLinkDeps {
  pg: PostgresStore;
  /** Undefined without STRIPE_SECRET_KEY: the route answers TALLY_ERR_STRIPE_NOT_CONFIGURED. */
  gateway: StripeGateway | undefined;
  logger: Logger;
}

export function paymentMethodLinkRoute(d: PaymentMethodLinkDeps): Route {
  return {
    method: 'POST',
    pattern: '/v1/customers/:id/payment_method_link',
    access: 'tenant',
    doc: {
      operationId: 'createPaymentMethodLink',
      tag: 'Customers',
      summary: 'A Stripe-hosted page where the customer adds a payment method',
      description:
        'Creates a Stripe billing-portal session for the customer (and their Stripe customer, once, if they have none). The customer adds or changes a card there; Stripe makes it the default payment method of their invoices. Sessions are short-lived: create one when the customer is about to use it.',
      path: { id: "The customer's id (the tenant's own)." },
      body: { name: 'PaymentMethodLinkRequest', schema: PaymentMethodLinkBody },
      responses: { 200: json('The link.', PaymentMethodLink) },
      errors: ['TALLY_ERR_NOT_FOUND', 'TALLY_ERR_INVALID_VALUE', 'TALLY_ERR_STRIPE_NOT_CONFIGURED', 'TALLY_ERR_STRIPE_UNAVAILABLE', 'TALLY_ERR_STRIPE_REFUSED'],
    },
    handler: async (req) => {
      const body = jsonBody(req, PaymentMethodLinkBody);
      const gateway = d.gateway;
      if (gateway === undefined) throw new TallyError('TALLY_ERR_STRIPE_NOT_CONFIGURED', 'STRIPE_SECRET_KEY is not set: there is no Stripe account to send the customer to');
      const tenant = tenantOf(req);
      const id = req.params.id!;
      const once = <T>(fn: () => Promise<T>) => fn();
      const live = await d.pg.query('SELECT 1 FROM customers WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL', [tenant, id]);
      if (live.rows.length === 0) throw new TallyError('TALLY_ERR_NOT_FOUND', `no customer with id ${JSON.stringify(id)}`, { field: 'id' });
      try {
        const stripeCustomer = await ensureStripeCustomer({ pg: d.pg, gateway, read: once, write: once }, tenant, id);
        const session = await gateway.createPortalSession({ stripeCustomer, returnUrl: body.return_url });
        return { status: 200, body: { url: session.url, customer: id, stripe_customer_id: stripeCustomer } };
      } catch (e) {
        if (e instanceof NoSuchCustomer) throw new TallyError('TALLY_ERR_NOT_FOUND', `no customer with id ${JSON.stringify(id)}`, { field: 'id' });
        const message = e instanceof Error ? e.message : String(e);
        d.logger.warn({ tenant, customer: id, error: errorClass(e), message }, 'creating a payment-method link failed');
        // The Stripe customer stored for the customer (given by the tenant) does not exist in this Stripe account.
        if (e instanceof Stripe.errors.StripeInvalidRequestError && e.code === 'resource_missing' && e.param === 'customer') {
          throw new TallyError('TALLY_ERR_INVALID_VALUE', `the customer's stripe_customer_id is not a customer of this Stripe account (${message}); correct it with PATCH /v1/customers/{id}`, {
            field: 'stripe_customer_id',
          });
        }
        if (isRetryable(e)) throw new TallyError('TALLY_ERR_STRIPE_UNAVAILABLE', `Stripe did not answer in time or failed (${errorClass(e)}); try again`, { cause: e });
        throw new TallyError('TALLY_ERR_STRIPE_REFUSED', `Stripe refused the request: ${message}`, { cause: e });
      }
    },
  };
}
