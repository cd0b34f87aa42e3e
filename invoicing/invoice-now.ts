import { TallyError } from '../core/errors.js';
import { minorUnits } from '../core/currency.js';
import { newId } from '../core/ids.js';
import type { PostgresStore } from '../core/postgres.js';
import { taxRatesFor } from '../catalog/tax-rates.js';
import { planAt } from './allowance.js';
import { composeInvoice } from './compose.js';
import type { CloseHook } from './close-hooks.js';
import { isDraft, writeInvoices, type Closing } from './invoice-writes.js';
import { loadSubscriptions } from './subscription-facts.js';

/**
 * A subscription's pending one-off charges invoiced at once, on an invoice of their own
 * (`kind: one_off`; its period is the instant it is issued), instead of on the next period's:
 * a setup fee due before the service starts, say. It is written as close writes invoices
 * (numbered, the customer's collection terms, a draft under review) and the same close hooks
 * follow it (the Stripe outbox, outbound events), in one transaction that also marks the
 * charges billed. It is taxed as the customer is; period discounts, commitments and credits
 * belong to period invoices and are not applied.
 */
export interface InvoiceNowDeps {
  pg: PostgresStore;
  review: boolean;
  afterClose: readonly CloseHook[];
}

/**
 * The id of the invoice that bills `chargeId` (given: a charge just added): a new one with every
 * charge still waiting, or the one a concurrent call made that took it already. Undefined when
 * there is no such subscription.
 */
export async function invoiceChargesNow(d: InvoiceNowDeps, tenantId: string, subscriptionId: string, now: Date, chargeId?: string): Promise<string | undefined> {
  return d.pg.transaction(async (tx) => {
    const locked = await tx.query('SELECT 1 FROM subscriptions WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [tenantId, subscriptionId]);
    if (locked.rows.length === 0) return undefined;
    if (chargeId !== undefined) {
      const billed = (await tx.query<{ invoice_id: string | null }>('SELECT invoice_id FROM one_off_charges WHERE tenant_id = $1 AND id = $2', [tenantId, chargeId])).rows[0]?.invoice_id;
      if (billed != null) return billed;
    }
    const [sub] = await loadSubscriptions(tx, { tenantId, ids: [subscriptionId] });
    // Locked as close locks them: a close writing meanwhile waits, and then leaves them out.
    const charges = (
      await tx.query<{ id: string; description: string; amount: string }>(
        'SELECT id, description, amount::text AS amount FROM one_off_charges WHERE tenant_id = $1 AND subscription_id = $2 AND invoice_id IS NULL ORDER BY tenant_id, id FOR UPDATE',
        [tenantId, subscriptionId],
      )
    ).rows;
    if (charges.length === 0) throw new TallyError('TALLY_ERR_INVALID_TRANSITION', `subscription ${subscriptionId} has no charges waiting to be invoiced`, { field: 'id' });
    const tax = (await taxRatesFor(tx, [tenantId]))(sub!);
    const composed = composeInvoice({ minorUnits: minorUnits(sub!.currency), baseFee: [], usage: [], adjustments: [], charges, tax });
    const closing: Closing = {
      id: newId('in', now.getTime()),
      kind: 'one_off',
      sub: sub!,
      // Not one of the subscription's billing periods (index -1): the instant it is issued.
      period: { index: -1, start: now, end: now },
      composed,
      totals: new Map(),
      late: { lines: [], updates: [], commitments: [], mark: '' },
      expire: null,
      charges: charges.map((c) => c.id),
    };
    await writeInvoices(tx, [closing], now, d.review);
    const plan = planAt(sub!, now) ?? sub!.history[0]!.plan;
    for (const hook of d.afterClose) await hook(tx, [{ id: closing.id, sub: sub!, period: closing.period, plan, composed, draft: isDraft(closing, d.review) }], now);
    return closing.id;
  });
}
