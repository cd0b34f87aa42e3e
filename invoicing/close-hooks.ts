import type { Queryable } from '../core/postgres.js';
import type { Period } from '../catalog/periods.js';
import type { ComposedInvoice } from './compose.js';
import type { PlanVersion, SubscriptionFacts } from './subscription-facts.js';

/**
 * What follows a period close outside invoicing (the Stripe outbox, outbound events) is
 * registered by the wiring (stack.ts) as hooks, so the billing core imports none of it. A hook
 * runs inside the transaction that writes the invoices, with that transaction, so what it
 * writes commits with them or not at all; it runs only when the batch wrote invoices.
 */
export interface ClosedInvoice {
  id: string;
  sub: SubscriptionFacts;
  period: Period;
  /** The plan in force at the end of the period (its billing mode says who invoices it). */
  plan: PlanVersion;
  composed: ComposedInvoice;
  /** Written as a draft for review (TALLY_INVOICE_REVIEW): not final, not numbered, not sent yet. */
  draft: boolean;
}

export type CloseHook = (tx: Queryable, closed: readonly ClosedInvoice[], asOf: Date) => Promise<void>;
