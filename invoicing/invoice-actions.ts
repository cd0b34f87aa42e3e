import { z } from 'zod';
import { TallyError } from '../core/errors.js';
import type { PostgresStore, Queryable } from '../core/postgres.js';
import type { InvoiceView } from './invoice-view.js';
import { takeNumbers } from './billing-profile.js';
import { LINE_TEXT, LINE_TEXT_RULE, LINES_TEXT, LINES_TEXT_RULE } from '../core/display-text.js';
import { invoiceCreditFollows } from '../catalog/credits.js';

/**
 * What finance does to an invoice: approve a draft under review (TALLY_INVOICE_REVIEW: it is
 * numbered and sent to Stripe then), void it, mark it paid out of band (a wire, a cheque), or
 * write it off as uncollectible. Each is one transaction that changes the status,
 * audits who did it, and runs the hooks the wiring registers (app/api.ts): the Stripe outbox
 * mirrors the change to Stripe, an outbound event announces it, dunning settles the
 * subscription. Asking for the state an invoice is already in changes nothing and succeeds;
 * a paid or void invoice cannot become anything else (TALLY_ERR_INVALID_TRANSITION).
 */
export type InvoiceAction = 'approve' | 'void' | 'mark_paid' | 'mark_uncollectible';
type Status = InvoiceView['status'];

const TARGET: Record<InvoiceAction, Status> = { approve: 'open', void: 'void', mark_paid: 'paid', mark_uncollectible: 'uncollectible' };
/** The statuses each action may leave (Stripe's rules: a paid invoice is never voided, a void one never paid). */
const FROM: Record<InvoiceAction, readonly Status[]> = {
  approve: ['draft'],
  // A draft rejected in review is voided before it has a number: no gap in the sequence.
  void: ['draft', 'open', 'uncollectible'],
  mark_paid: ['open', 'uncollectible'],
  mark_uncollectible: ['open'],
};

const reason = z.string().trim().min(1, 'must not be empty').max(500).regex(LINES_TEXT, LINES_TEXT_RULE);
export const ApproveInvoice = z.strictObject({});
export const VoidInvoice = z.strictObject({ reason: reason.optional() });
export const MarkUncollectible = z.strictObject({ reason: reason.optional() });
export const MarkPaid = z.strictObject({
  method: z.enum(['bank_transfer', 'cheque', 'cash', 'other']),
  reference: z.string().trim().min(1, 'must not be empty').max(200).regex(LINE_TEXT, LINE_TEXT_RULE).optional(),
});
export type ActionInput = { reason?: string | undefined } | z.output<typeof MarkPaid>;

export interface InvoiceChange {
  tenantId: string;
  invoiceId: string;
  subscriptionId: string;
  action: InvoiceAction;
  from: Status;
  to: Status;
  actor: string;
  at: Date;
}

/** A side effect of a change, run inside its transaction (so it commits with it or not at all). */
export type InvoiceChangeHook = (tx: Queryable, change: InvoiceChange) => Promise<void>;

export class InvoiceActions {
  constructor(
    private readonly pg: PostgresStore,
    private readonly hooks: readonly InvoiceChangeHook[] = [],
  ) {}

  /**
   * Applies `action`; when the invoice exists (changed or already there), what `view` reads of it
   * in the same transaction, under its row lock: the invoice as this action left it, not as a
   * change committed just after it made it. Undefined when there is no such invoice.
   */
  async apply<T>(tenantId: string, id: string, action: InvoiceAction, input: ActionInput, actor: string, now: Date, view: (tx: Queryable) => Promise<T>): Promise<T | undefined> {
    return this.pg.transaction(async (tx) => {
      const { rows } = await tx.query<{ status: Status; subscription_id: string }>('SELECT status, subscription_id FROM invoices WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [tenantId, id]);
      const inv = rows[0];
      if (inv === undefined) return undefined;
      const to = TARGET[action];
      if (inv.status === to) return view(tx);
      // Then its subscription, before anything else is locked: close locks subscriptions, then
      // numbers and credit grants, and so must every change here (a void gives credit back; an
      // approval takes a number; dunning settles the subscription), or the two can deadlock.
      await tx.query('SELECT 1 FROM subscriptions WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [tenantId, inv.subscription_id]);
      if (!FROM[action].includes(inv.status)) {
        throw new TallyError('TALLY_ERR_INVALID_TRANSITION', `invoice ${id} is ${inv.status}; ${action.replace('_', ' ')} applies to ${FROM[action].join(' or ')} invoices`, { field: 'id' });
      }
      // Approval issues the draft: it takes its number now, with the issuer as it is now.
      if (action === 'approve') {
        const { numbers, issuer } = await takeNumbers(tx, tenantId, 1);
        await tx.query('UPDATE invoices SET number = $3, issuer = $4 WHERE tenant_id = $1 AND id = $2', [tenantId, id, numbers[0], JSON.stringify(issuer)]);
      }
      const paid = 'method' in input ? { method: input.method, reference: input.reference ?? null, at: now.toISOString() } : null;
      await tx.query(
        `UPDATE invoices SET status = $3, status_reason = $4, paid_out_of_band = $5, paid_at = CASE WHEN $3 = 'paid' THEN $6 ELSE paid_at END,
                payment_failed_at = NULL, updated_at = now()
          WHERE tenant_id = $1 AND id = $2`,
        [tenantId, id, to, 'reason' in input ? (input.reason ?? null) : null, paid === null ? null : JSON.stringify(paid), now],
      );
      await tx.query('INSERT INTO invoice_audit (tenant_id, invoice_id, at, actor, action, details) VALUES ($1, $2, $3, $4, $5, $6)', [
        tenantId,
        id,
        now,
        actor,
        action,
        JSON.stringify({ from: inv.status, to, ...input }),
      ]);
      await invoiceCreditFollows(tx, tenantId, id, { from: inv.status, to });
      const change: InvoiceChange = { tenantId, invoiceId: id, subscriptionId: inv.subscription_id, action, from: inv.status, to, actor, at: now };
      for (const hook of this.hooks) await hook(tx, change);
      return view(tx);
    });
  }

  async auditTrail(tenantId: string, id: string): Promise<{ at: string; actor: string; action: string; details: unknown }[]> {
    const { rows } = await this.pg.query<{ at: Date; actor: string; action: string; details: unknown }>(
      'SELECT at, actor, action, details FROM invoice_audit WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY seq',
      [tenantId, id],
    );
    return rows.map((r) => ({ ...r, at: r.at.toISOString() }));
  }
}
