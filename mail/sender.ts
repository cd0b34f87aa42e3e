import type { Counter } from 'prom-client';
import { errorSummary } from '../core/isolate.js';
import type { Logger } from '../core/log.js';
import type { PostgresStore } from '../core/postgres.js';
import { composeMail, type MailDocuments, type MailRow } from './compose.js';
import type { EnqueueSettings } from './enqueue.js';
import type { MailMetrics } from './metrics.js';
import { RETRY_DELAYS_MS, nextDelayMs } from './schedule.js';
import { enqueueOverdue } from './triggers.js';
import { refusal, type MailTransport } from './transport.js';

/**
 * Sends the mail outbox through the SMTP server. A run claims due rows under a lease (FOR
 * UPDATE SKIP LOCKED: several loops never send the same row at once), every tenant's first mail
 * before any tenant's second, sends them, and writes
 * each result only while it still holds the row. The server accepting a mail marks it sent; a
 * 5xx about the mail (its recipient, its content) fails it with the reason; anything else (a
 * 4xx, a refused or dropped connection, a timeout) tries it again on the webhook schedule
 * (schedule.ts) until that runs out. Every failure is logged, counted in
 * `tally_loop_item_failures_total{loop="mail"}`, and the run goes on with the others (only a
 * batch in which not one went through ends it: the server is down or refusing for now, and the
 * rest waits for the next run).
 *
 * Exactly once: a row is sent by one loop at a time, and marked sent in the same breath as the
 * server's acceptance. What cannot be told apart is a connection lost after the server took the
 * message but before its reply arrived (or a crash before the row is marked): the mail is sent
 * again, with the same Message-ID, by which the receiving server or mail client can tell the copy.
 */
export interface MailSenderDeps {
  pg: PostgresStore;
  transport: MailTransport;
  documents: MailDocuments;
  metrics: MailMetrics;
  logger: Logger;
  /** Who claims (for the lease). */
  owner: string;
  /** TALLY_MAIL_FROM. */
  fromAddress: string;
  enqueue: EnqueueSettings;
  /** How long the SMTP server has for one mail, all of it. */
  timeoutMs: number;
  /** Mails sent at once. */
  concurrency?: number;
  /** Retry delays; tests shorten them. */
  delays?: readonly number[];
  /** How often the overdue sweep runs (it runs at the start of a run once this has passed). */
  overdueEveryMs?: number;
  clock?: () => number;
  /** `tally_loop_item_failures_total` (core/metrics.ts loopMetrics). */
  itemFailures?: Counter<'loop'>;
}

export interface MailReport {
  claimed: number;
  sent: number;
  retried: number;
  failed: number;
  canceled: number;
  /** Overdue reminders enqueued by this run's sweep. */
  overdue: number;
}

type Outcome = 'sent' | 'retried' | 'failed' | 'canceled' | 'skipped';

/** Time a lease leaves beyond the send timeout: writing the mail (its PDF) after the claim, and the result's round trip. */
const LEASE_MARGIN_MS = 30_000;

export class MailSender {
  private readonly clock: () => number;
  private readonly concurrency: number;
  private sweptAt = -Infinity;

  constructor(private readonly d: MailSenderDeps) {
    this.clock = d.clock ?? Date.now;
    this.concurrency = d.concurrency ?? 4;
  }

  /** Closes the SMTP transport (after the last run). */
  close(): void {
    this.d.transport.close();
    void this.d.documents.close?.();
  }

  private get leaseMs(): number {
    return this.d.timeoutMs + LEASE_MARGIN_MS;
  }

  /**
   * Sweeps for overdue reminders when due, then sends due mails in batches until none is left
   * (or `signal` aborts: the batch in flight finishes), then refreshes the gauges.
   */
  async runOnce(o: { signal?: AbortSignal } = {}): Promise<MailReport> {
    const report: MailReport = { claimed: 0, sent: 0, retried: 0, failed: 0, canceled: 0, overdue: 0 };
    if (this.clock() - this.sweptAt >= (this.d.overdueEveryMs ?? 60_000)) {
      try {
        report.overdue = (await enqueueOverdue(this.d.pg, new Date(this.clock()), this.d.enqueue)).enqueued;
        this.sweptAt = this.clock();
      } catch (e) {
        this.d.itemFailures?.inc({ loop: 'mail' });
        this.d.logger.warn({ ...errorSummary(e) }, 'mail: the overdue sweep failed; the next run tries again');
      }
    }
    while (o.signal?.aborted !== true) {
      const rows = await this.claim(this.concurrency);
      if (rows.length === 0) break;
      report.claimed += rows.length;
      const outcomes = await Promise.all(rows.map((row) => this.sendIsolated(row)));
      for (const outcome of outcomes) if (outcome !== 'skipped') report[outcome]++;
      // Not one went through: the server is likely down or refusing for now. The rest waits for
      // the next run rather than each costing a connection now.
      if (outcomes.every((outcome) => outcome === 'retried')) break;
    }
    await this.refreshGauges().catch((e: unknown) => this.d.logger.warn({ ...errorSummary(e) }, 'mail: refreshing the outbox gauges failed'));
    return report;
  }

  /**
   * Claims up to `limit` due rows, taken round-robin across tenants: each tenant's oldest first,
   * every tenant's first before any tenant's second, so one tenant's month-end (thousands of
   * invoices at once) never holds up another's mail by more than a batch. The ranking reads due
   * rows without locking them; the rows picked are then locked, skipping any another loop is
   * claiming, and checked again.
   */
  private async claim(limit: number): Promise<MailRow[]> {
    const { rows } = await this.d.pg.query<MailRow>(
      `WITH due AS (
         SELECT id, tenant_id, next_attempt_at, row_number() OVER (PARTITION BY tenant_id ORDER BY next_attempt_at, id) AS nth_of_tenant
           FROM mail_outbox
          WHERE status = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now())
       ), picked AS (
         SELECT m.tenant_id, m.id FROM mail_outbox m JOIN due ON due.tenant_id = m.tenant_id AND due.id = m.id
          WHERE m.status = 'pending' AND (m.locked_until IS NULL OR m.locked_until < now())
          ORDER BY due.nth_of_tenant, due.next_attempt_at, due.id LIMIT $3 FOR UPDATE OF m SKIP LOCKED
       )
       UPDATE mail_outbox m SET locked_by = $1, locked_until = now() + make_interval(secs => $2), attempts = attempts + 1, updated_at = now()
         FROM picked WHERE m.tenant_id = picked.tenant_id AND m.id = picked.id
       RETURNING m.tenant_id, m.id, m.kind, m.invoice_id, m.credit_note_id, m.recipient, m.message_id, m.attempts`,
      [this.d.owner, this.leaseMs / 1000, limit],
    );
    return rows;
  }

  /** Sends one claimed row, never throwing: a row whose handling fails is logged, counted and left to its lease. */
  private async sendIsolated(row: MailRow): Promise<Outcome> {
    try {
      const outcome = await this.send(row);
      if (outcome === 'retried' || outcome === 'failed') this.d.itemFailures?.inc({ loop: 'mail' });
      return outcome;
    } catch (e) {
      this.d.itemFailures?.inc({ loop: 'mail' });
      this.d.logger.warn({ mail: row.id, tenant: row.tenant_id, kind: row.kind, ...errorSummary(e) }, 'mail: handling a mail failed; it is tried again when its lease runs out');
      return 'skipped';
    }
  }

  private async send(row: MailRow): Promise<Outcome> {
    let composed;
    try {
      composed = await composeMail(this.d.pg, row, this.d.documents, { fromAddress: this.d.fromAddress, stripeSync: this.d.enqueue.stripeSync });
    } catch (e) {
      // Its documents could not be read or made now: tried again later, like a refused connection.
      return this.retryOrFail(row, `writing the mail failed: ${errorSummary(e).message}`);
    }
    if (composed.action === 'cancel') {
      await this.finish(row, 'canceled', composed.reason);
      return 'canceled';
    }
    if (composed.action === 'fail') {
      await this.finish(row, 'failed', composed.reason);
      return 'failed';
    }
    // Reading the documents may have taken a while: the lease is renewed for the whole send
    // timeout, unless another loop took the row meanwhile (then it is that loop's to send).
    const renewed = await this.d.pg.query('UPDATE mail_outbox SET locked_until = now() + make_interval(secs => $4), updated_at = now() WHERE tenant_id = $1 AND id = $2 AND locked_by = $3', [
      row.tenant_id,
      row.id,
      this.d.owner,
      this.leaseMs / 1000,
    ]);
    if (renewed.rowCount === 0) {
      this.d.logger.warn({ mail: row.id, tenant: row.tenant_id }, 'mail: no longer held by this loop before sending; not sent by it');
      return 'skipped';
    }
    try {
      await this.d.transport.send(composed.mail, AbortSignal.timeout(this.d.timeoutMs));
    } catch (e) {
      const r = refusal(e);
      if (r.permanent) {
        await this.finish(row, 'failed', r.reason);
        return 'failed';
      }
      return this.retryOrFail(row, r.reason);
    }
    await this.finish(row, 'sent', null);
    return 'sent';
  }

  private async retryOrFail(row: MailRow, reason: string): Promise<Outcome> {
    const delay = nextDelayMs(row.attempts, this.d.delays ?? RETRY_DELAYS_MS);
    if (delay === null) {
      await this.finish(row, 'failed', `${reason} (out of retries after ${row.attempts} attempts)`);
      return 'failed';
    }
    await this.finish(row, 'pending', reason, delay);
    return 'retried';
  }

  /** Writes a row's result, only while this loop still holds it (once another has claimed it, the result is that one's). */
  private async finish(row: MailRow, status: 'sent' | 'pending' | 'failed' | 'canceled', error: string | null, delayMs = 0): Promise<void> {
    const { rowCount } = await this.d.pg.query(
      `UPDATE mail_outbox SET status = $4, last_error = $5, next_attempt_at = now() + make_interval(secs => $6),
              sent_at = CASE WHEN $4 = 'sent' THEN now() ELSE sent_at END, locked_by = NULL, locked_until = NULL, updated_at = now()
        WHERE tenant_id = $1 AND id = $2 AND locked_by = $3`,
      [row.tenant_id, row.id, this.d.owner, status, error?.slice(0, 1000) ?? null, delayMs / 1000],
    );
    const log = { mail: row.id, tenant: row.tenant_id, kind: row.kind, attempt: row.attempts };
    if (rowCount === 0) {
      this.d.logger.warn(log, `mail: no longer held by this loop when its attempt ended (${status}); its result is not written`);
      return;
    }
    if (status === 'sent') this.d.metrics.sent.inc({ kind: row.kind });
    else if (status === 'failed') {
      this.d.metrics.failed.inc({ kind: row.kind });
      this.d.logger.warn({ ...log, error }, 'mail failed for good');
    } else if (status === 'pending') {
      this.d.metrics.retried.inc();
      this.d.logger.warn({ ...log, error, retryInMs: delayMs }, 'mail not sent; tried again later');
    } else this.d.logger.info({ ...log, reason: error }, 'mail canceled');
  }

  private async refreshGauges(): Promise<void> {
    const { rows } = await this.d.pg.query<{ n: string; oldest: string | null }>(
      "SELECT count(*)::text AS n, extract(epoch FROM now() - min(created_at))::text AS oldest FROM mail_outbox WHERE status = 'pending'",
    );
    this.d.metrics.pending.set(Number(rows[0]?.n ?? 0));
    this.d.metrics.oldestPending.set(Number(rows[0]?.oldest ?? 0));
  }
}
