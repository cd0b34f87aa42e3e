import { createHash } from 'node:crypto';
import { errors } from './errors.js';
import type { Customer, PaymentMethod } from './objects.js';
import type { CardBehaviour, Entry, PaymentMethodEntry, Store } from './store.js';
import type { StripeEvent, Webhooks } from './webhooks.js';

/**
 * Cards come from Stripe's test PaymentMethod tokens: naming one where a PaymentMethod id goes
 * (attach, `payment_method` on a customer) makes a new `pm_…` card, as Stripe does, and the
 * card remembers how charges to it behave. Other tokens are unknown here (`resource_missing`),
 * so a test cannot silently get a card that behaves differently from Stripe's.
 */
interface TestCard {
  number: string;
  brand: string;
  funding: 'credit' | 'debit';
  behaviour: CardBehaviour;
}

export const TEST_TOKENS: Readonly<Record<string, TestCard>> = {
  // Charges succeed.
  pm_card_visa: { number: '4242424242424242', brand: 'visa', funding: 'credit', behaviour: 'succeeds' },
  // Attaching succeeds; every charge is declined (card_declined, generic_decline).
  pm_card_chargeCustomerFail: { number: '4000000000000341', brand: 'visa', funding: 'credit', behaviour: 'declines' },
  // Every charge needs 3D Secure, which an API call (or an automatic attempt) cannot complete.
  pm_card_authenticationRequired: { number: '4000002760003184', brand: 'visa', funding: 'credit', behaviour: 'requires_authentication' },
};

export const isTestToken = (id: string): boolean => Object.hasOwn(TEST_TOKENS, id);

/** A new card PaymentMethod from a test token, attached to no one. */
function cardFromToken(store: Store, token: string): PaymentMethodEntry {
  const card = TEST_TOKENS[token];
  if (card === undefined) throw errors.resourceMissing('PaymentMethod', token, 'payment_method', 404);
  const year = new Date(store.clock()).getUTCFullYear();
  const pm: PaymentMethod = {
    id: store.ids.next('pm'),
    object: 'payment_method',
    allow_redisplay: 'unspecified',
    billing_details: { address: { city: null, country: null, line1: null, line2: null, postal_code: null, state: null }, email: null, name: null, phone: null, tax_id: null },
    card: {
      brand: card.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'pass' },
      country: 'US',
      display_brand: card.brand,
      exp_month: 12,
      exp_year: year + 3,
      // The same card number has the same fingerprint, as in one Stripe account.
      fingerprint: createHash('sha256').update(card.number).digest('base64url').slice(0, 16),
      funding: card.funding,
      generated_from: null,
      last4: card.number.slice(-4),
      networks: { available: [card.brand], preferred: null },
      regulated_status: 'unregulated',
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
    created: store.now(),
    customer: null,
    customer_account: null,
    livemode: false,
    metadata: {},
    type: 'card',
  };
  const e: PaymentMethodEntry = { ...store.entry(pm), behaviour: card.behaviour, detached: false };
  store.paymentMethods.set(pm.id, e);
  return e;
}

const REUSED =
  'The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment, shared with a connected account without Customer attachment, or was detached from a Customer. It may not be used again. To use a PaymentMethod multiple times, you must attach it to a Customer first.';

/** Refuses what `attach` would refuse to attach to `customerId`, before anything is written. */
export function checkAttachable(store: Store, idOrToken: string, customerId: string | null, param: string): void {
  if (isTestToken(idOrToken)) return;
  const pm = store.paymentMethod(idOrToken, param, param === 'id' ? 404 : 400);
  if (pm.detached) throw errors.invalidRequest(REUSED, param);
  if (pm.obj.customer !== null && pm.obj.customer !== customerId) throw errors.invalidRequest('The payment method you provided has already been attached to a customer.', param);
}

export interface Attached {
  pm: PaymentMethodEntry;
  /** null when it was already attached to this customer (nothing changed). */
  event: StripeEvent | null;
}

/**
 * Attaches a PaymentMethod (an id, or a test token, which makes a new card) to a customer and
 * emits `payment_method.attached`. Attaching does not make it the default, as in Stripe.
 */
export function attach(store: Store, webhooks: Webhooks, idOrToken: string, customer: Entry<Customer>, param: string, cause: { requestId?: string; idempotencyKey?: string | null } = {}): Attached {
  checkAttachable(store, idOrToken, customer.obj.id, param);
  const pm = isTestToken(idOrToken) ? cardFromToken(store, idOrToken) : store.paymentMethod(idOrToken, param);
  if (pm.obj.customer === customer.obj.id) return { pm, event: null };
  pm.obj.customer = customer.obj.id;
  return { pm, event: webhooks.emit('payment_method.attached', renderPaymentMethod(pm), cause) };
}

/**
 * The PaymentMethod `id` as a customer's default: it must be attached to that customer
 * (Stripe's wording and code).
 */
export function attachedTo(store: Store, id: string, customerId: string, param: string): PaymentMethodEntry {
  const pm = store.paymentMethods.get(id);
  if (pm === undefined || pm.obj.customer !== customerId) {
    throw errors.invalidRequest(`The customer does not have a payment method with the ID ${id}. The payment method must be attached to the customer.`, param, 'resource_missing');
  }
  return pm;
}

/**
 * Detaches a card: it can never be used again, and stops being its customer's default (as in
 * Stripe). Emits `payment_method.detached` (and `customer.updated` when the default was cleared).
 */
export function detach(store: Store, webhooks: Webhooks, pm: PaymentMethodEntry, cause: { requestId?: string; idempotencyKey?: string | null } = {}): StripeEvent[] {
  const customerId = pm.obj.customer;
  if (customerId === null) throw errors.invalidRequest('The payment method you provided is not attached to a customer so detachment is impossible.', 'payment_method');
  pm.obj.customer = null;
  pm.detached = true;
  const events = [webhooks.emit('payment_method.detached', renderPaymentMethod(pm), { ...cause, previousAttributes: { customer: customerId } })];
  const customer = store.customers.get(customerId);
  if (customer !== undefined && customer.obj.invoice_settings.default_payment_method === pm.obj.id) {
    customer.obj.invoice_settings.default_payment_method = null;
    events.push(webhooks.emit('customer.updated', structuredClone(customer.obj), { ...cause, previousAttributes: { invoice_settings: { default_payment_method: pm.obj.id } } }));
  }
  return events;
}

export const renderPaymentMethod = (e: PaymentMethodEntry): PaymentMethod => structuredClone(e.obj);
