import { attach, renderPaymentMethod } from './payment-methods.js';
import type { BillingPortalSession, PaymentMethod } from './objects.js';
import type { Store } from './store.js';
import type { StripeEvent, Webhooks } from './webhooks.js';

/**
 * The customer portal, as far as collection needs it: a session (a link for one customer), and
 * the one thing a test makes a customer do there: add a card, which becomes the customer's
 * default for invoices (`payment_method.attached`, then `customer.updated`). Later automatic
 * retries charge it.
 */
export interface PortalOutcome {
  paymentMethod: PaymentMethod;
  events: StripeEvent[];
}

export function portalAddPaymentMethod(store: Store, webhooks: Webhooks, sessionId: string, token: string): PortalOutcome {
  const session = store.portalSessions.get(sessionId);
  if (session === undefined) throw new Error(`no such billing portal session: ${sessionId}`);
  const customer = store.customer(session.obj.customer, 'customer');
  const { pm, event } = attach(store, webhooks, token, customer, 'payment_method');
  const previous = customer.obj.invoice_settings.default_payment_method;
  customer.obj.invoice_settings.default_payment_method = pm.obj.id;
  const events = event === null ? [] : [event];
  if (previous !== pm.obj.id) {
    events.push(webhooks.emit('customer.updated', structuredClone(customer.obj), { previousAttributes: { invoice_settings: { default_payment_method: previous } } }));
  }
  return { paymentMethod: renderPaymentMethod(pm), events };
}

export const renderSession = (s: BillingPortalSession): BillingPortalSession => structuredClone(s);
