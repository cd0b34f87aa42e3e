import type { PostgresStore } from '../core/postgres.js';
import { errorClass, type StripeGateway } from './gateway.js';
import { idempotencyKey } from './keys.js';

/**
 * The Stripe customer of a Tally customer, created once when it has none (the idempotency key
 * is built from Tally's ids) and kept on the customer. Billing sync and the payment-method link
 * both start here. `read` and `write` wrap each Stripe request (billing sync retries in place
 * and holds writes to the rate limit).
 */
export interface StripeCustomerDeps {
  pg: PostgresStore;
  gateway: StripeGateway;
  read: <T>(fn: () => Promise<T>) => Promise<T>;
  write: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** There is no such Tally customer (or it was deleted). */
export class NoSuchCustomer extends Error {}

export async function ensureStripeCustomer(d: StripeCustomerDeps, t: string, customerId: string, lookFirst = false): Promise<string> {
  const customer = (
    await d.pg.query<{ name: string; email: string | null; stripe_customer_id: string | null }>('SELECT name, email, stripe_customer_id FROM customers WHERE tenant_id = $1 AND id = $2', [t, customerId])
  ).rows[0];
  if (customer === undefined) throw new NoSuchCustomer(`customer ${customerId} does not exist`);
  if (customer.stripe_customer_id !== null) return customer.stripe_customer_id;
  let id = lookFirst ? await d.read(() => d.gateway.findCustomer(t, customerId)) : undefined;
  if (id === undefined) {
    try {
      id = await d.write(() => d.gateway.createCustomer({ tenantId: t, customerId, name: customer.name, email: customer.email }, idempotencyKey(t, 'customer', customerId)));
    } catch (e) {
      // The customer's name or email changed since the first attempt: that attempt may have
      // created it, so look before trying again.
      if (errorClass(e) !== 'idempotency') throw e;
      id = await d.read(() => d.gateway.findCustomer(t, customerId));
      if (id === undefined) throw e;
    }
  }
  await d.pg.query('UPDATE customers SET stripe_customer_id = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2 AND stripe_customer_id IS NULL', [t, customerId, id]);
  return id;
}
