import type { PostgresStore, Queryable } from '../core/postgres.js';
import type { InvoiceChangeHook } from '../invoicing/invoice-actions.js';
import type { CreditNoteHook } from '../invoicing/credit-notes.js';
import { TallyError } from '../core/errors.js';
import { stripeAmount } from './currency.js';
import { emit } from '../webhooks/events.js';
import { invoiceEvents } from '../webhooks/payloads.js';

/**
 * The Postgres outbox of Stripe writes (see the 0008 migration). `enqueue` runs inside the
 * transaction that makes the write necessary; workers `claim` due rows under a lease with
 * FOR UPDATE SKIP LOCKED (two workers never get the same row), then mark each done, due again
 * later (with backoff), or failed for good.
 */
export type OutboxKind = 'invoice' | 'meter_usage' | 'credit_note';

export interface OutboxRow {
  id: string;
  tenant_id: string;
  kind: OutboxKind;
  ref: string;
  attempts: number;
  /** Attempts in a row, up to the last one, that got no further than an earlier one. */
  stalled_attempts: number;
  /** The furthest step any attempt completed. */
  steps_done: number;
  created_at: Date;
}

/** `held` rows are never due until something makes them due (an approved draft: reopenInvoiceRow). */
export async function enqueue(q: Queryable, rows: readonly { tenantId: string; kind: OutboxKind; ref: string; held?: boolean }[]): Promise<void> {
  if (rows.length === 0) return;
  await q.query(
    `INSERT INTO stripe_outbox (tenant_id, kind, ref, next_attempt_at)
     SELECT t, k, r, CASE WHEN h THEN 'infinity'::timestamptz ELSE now() END FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[]) AS x(t, k, r, h)
     ON CONFLICT (tenant_id, kind, ref) DO NOTHING`,
    [rows.map((r) => r.tenantId), rows.map((r) => r.kind), rows.map((r) => r.ref), rows.map((r) => r.held === true)],
  );
}

/** Backoff before attempt n+1: exponential from 1 s, capped at 10 minutes, with full jitter. */
export function backoffMs(attempts: number, random: () => number = Math.random): number {
  const cap = Math.min(600_000, 1000 * 2 ** Math.min(attempts, 20));
  return Math.floor(cap / 2 + (random() * cap) / 2);
}

/**
 * A finance action changed an invoice Stripe already has (or is getting): its row is due again
 * so that billing sync mirrors the new status. The lease is taken away too: a worker in the
 * middle of the row read the old status, and its `done` (which needs the lease) must not close
 * the row over the change. An invoice without a row was never meant for Stripe: nothing to do.
 */
export const reopenInvoiceRow: InvoiceChangeHook = async (tx, change) => {
  const reopened = await tx.query(
    `UPDATE stripe_outbox SET state = 'pending', next_attempt_at = now(), attempts = 0, stalled_attempts = 0, last_error = NULL,
            locked_by = NULL, locked_until = NULL, done_at = NULL, updated_at = now()
      WHERE tenant_id = $1 AND kind = 'invoice' AND ref = $2`,
    [change.tenantId, change.invoiceId],
  );
  // An approved draft that does not go to Stripe is final now; one that does is final when
  // billing sync has Stripe finalize it (which announces it then).
  if (change.action === 'approve' && reopened.rowCount === 0) await emit(tx, await invoiceEvents(tx, [{ tenantId: change.tenantId, id: change.invoiceId }], 'invoice.finalized'));
};

/**
 * A credit note on an invoice that goes to Stripe goes there too, after it (billing sync waits
 * for the invoice to be finalized in Stripe). An invoice never meant for Stripe has no row.
 */
export const enqueueCreditNote: CreditNoteHook = async (tx, issued) => {
  // Stripe's unit must carry the amount exactly (stripe/currency.ts), or the note could never
  // reach Stripe: refused here, with nothing written, for an invoice that goes to Stripe.
  const note = (
    await tx.query<{ amount: string; currency: string; to_stripe: boolean }>(
      `SELECT amount::text AS amount, currency, EXISTS (SELECT 1 FROM stripe_outbox WHERE tenant_id = $1 AND kind = 'invoice' AND ref = $3) AS to_stripe
         FROM credit_notes WHERE tenant_id = $1 AND id = $2`,
      [issued.tenantId, issued.id, issued.invoiceId],
    )
  ).rows[0];
  if (note?.to_stripe !== true) return;
  if (stripeAmount(note.amount, note.currency) === undefined) {
    throw new TallyError('TALLY_ERR_INVALID_VALUE', `Stripe takes ${note.currency} in whole units only; a credit note of ${note.amount} cannot reach it exactly`, { field: 'amount' });
  }
  await enqueue(tx, [{ tenantId: issued.tenantId, kind: 'credit_note', ref: issued.id }]);
};

/** A tenant's rows still to write and failed for good, and the age of its oldest pending one. */
export async function tenantOutboxStats(q: Queryable, tenantId: string): Promise<{ pending: number; failed: number; oldestPendingSeconds: number | null }> {
  const { rows } = await q.query<{ pending: string; failed: string; oldest: string | null }>(
    `SELECT count(*) FILTER (WHERE state = 'pending')::text AS pending, count(*) FILTER (WHERE state = 'failed')::text AS failed,
            extract(epoch FROM now() - min(created_at) FILTER (WHERE state = 'pending'))::text AS oldest
       FROM stripe_outbox WHERE tenant_id = $1 AND state IN ('pending', 'failed')`,
    [tenantId],
  );
  const r = rows[0];
  return { pending: Number(r?.pending ?? 0), failed: Number(r?.failed ?? 0), oldestPendingSeconds: r?.oldest == null ? null : Number(r.oldest) };
}

export class Outbox {
  constructor(
    private readonly pg: PostgresStore,
    private readonly owner: string,
    private readonly leaseSeconds: number,
  ) {}

  /**
   * Claims up to `limit` due rows, except those in `skip`: rows a run already tried and set
   * aside, which wait for a later run even when their retry is due at once (a row failing
   * again and again must not keep one run busy while other rows wait).
   */
  async claim(limit: number, skip: readonly string[] = []): Promise<OutboxRow[]> {
    // Returned in the order they fell due: an invoice's row before its credit notes', which wait
    // for it. UPDATE ... RETURNING gives rows in whatever order the update met them (on the
    // PostgreSQL server, often not the subquery's), hence the outer ORDER BY.
    const { rows } = await this.pg.query<OutboxRow>(
      `WITH claimed AS (
         UPDATE stripe_outbox SET locked_by = $1, locked_until = now() + make_interval(secs => $2), attempts = attempts + 1, updated_at = now()
          WHERE id IN (
            SELECT id FROM stripe_outbox
             WHERE state = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now()) AND id <> ALL($4::bigint[])
             ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
          RETURNING id, tenant_id, kind, ref, attempts, stalled_attempts, steps_done, created_at, next_attempt_at)
       SELECT id::text AS id, tenant_id, kind, ref, attempts, stalled_attempts, steps_done, created_at FROM claimed ORDER BY next_attempt_at, id`,
      [this.owner, this.leaseSeconds, limit, skip],
    );
    return rows;
  }

  /**
   * Extends a claimed row's lease before it is worked on (a batch shares one claim, and retries
   * in place can make its first rows slow); false when the lease was lost to another worker,
   * which then owns the row.
   */
  async renew(id: string): Promise<boolean> {
    const { rows } = await this.pg.query(
      'UPDATE stripe_outbox SET locked_until = now() + make_interval(secs => $3), updated_at = now() WHERE id = $1 AND locked_by = $2 RETURNING id',
      [id, this.owner, this.leaseSeconds],
    );
    return rows.length > 0;
  }

  /** Gives back a claimed row that was not tried: unlocked, due as it was, its claim's attempt not counted. */
  async release(id: string): Promise<void> {
    await this.pg.query('UPDATE stripe_outbox SET locked_by = NULL, locked_until = NULL, attempts = attempts - 1, updated_at = now() WHERE id = $1 AND locked_by = $2', [id, this.owner]);
  }

  async done(id: string): Promise<void> {
    await this.pg.query(
      "UPDATE stripe_outbox SET state = 'done', done_at = now(), locked_by = NULL, locked_until = NULL, last_error = NULL, updated_at = now() WHERE id = $1 AND locked_by = $2",
      [id, this.owner],
    );
  }

  /** Due again after `delayMs`, with how far it got and its count of attempts in a row that got no further. */
  async retry(id: string, error: string, delayMs: number, progress: { stalled: number; stepsDone: number }): Promise<void> {
    await this.pg.query(
      `UPDATE stripe_outbox SET next_attempt_at = now() + make_interval(secs => $3), locked_by = NULL, locked_until = NULL, last_error = $4,
              stalled_attempts = $5, steps_done = $6, updated_at = now()
        WHERE id = $1 AND locked_by = $2`,
      [id, this.owner, delayMs / 1000, error.slice(0, 2000), progress.stalled, progress.stepsDone],
    );
  }

  async fail(id: string, error: string): Promise<void> {
    await this.pg.query(
      "UPDATE stripe_outbox SET state = 'failed', locked_by = NULL, locked_until = NULL, last_error = $3, updated_at = now() WHERE id = $1 AND locked_by = $2",
      [id, this.owner, error.slice(0, 2000)],
    );
  }

  /** Rows by state, and the age of the oldest pending one (the sync lag). */
  async stats(): Promise<{ byState: Record<string, number>; oldestPendingSeconds: number }> {
    const { rows } = await this.pg.query<{ state: string; n: string; oldest: string | null }>(
      "SELECT state, count(*)::text AS n, extract(epoch FROM now() - min(created_at) FILTER (WHERE state = 'pending'))::text AS oldest FROM stripe_outbox GROUP BY state",
    );
    const byState: Record<string, number> = { pending: 0, done: 0, failed: 0 };
    let oldest = 0;
    for (const r of rows) {
      byState[r.state] = Number(r.n);
      if (r.oldest !== null) oldest = Number(r.oldest);
    }
    return { byState, oldestPendingSeconds: oldest };
  }
}
