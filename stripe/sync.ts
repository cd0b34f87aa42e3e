import { randomUUID } from 'node:crypto';
import type { Counter } from 'prom-client';
import type { PostgresStore } from '../core/postgres.js';
import type { ClickHouseStore } from '../core/clickhouse.js';
import { pushMeterUsage } from './meter-usage.js';
import { emit } from '../webhooks/events.js';
import { invoiceEvents } from '../webhooks/payloads.js';
import type { Logger } from '../core/log.js';
import { toItems } from './invoice-items.js';
import { stripeAmount, stripeScale } from './currency.js';
import { errorClass, isRetryable, type StripeGateway } from './gateway.js';
import { idempotencyKey } from './keys.js';
import { ensureStripeCustomer, NoSuchCustomer } from './customers.js';
import { DEFAULT_DAYS_UNTIL_DUE } from '../catalog/customers.js';
import { backoffMs, Outbox, type OutboxRow } from './outbox.js';
import type { WriteLimiter } from './rate-limit.js';
import type { SyncMetrics } from './metrics.js';

/**
 * The billing-sync worker: claims due outbox rows and carries each out as a sequence of
 * idempotent Stripe writes, recording every Stripe id it gets back before the next step:
 *
 *  invoice: the Stripe customer (created once per Tally customer, id stored on the customer),
 *  a draft invoice (id stored on the invoice), one invoice item per line (amounts apportioned
 *  to whole minor units that add up to Tally's total, see invoice-items.ts), then finalization.
 *
 * After the outbox, each run pushes the hourly usage of meter-mode plans (meter-usage.ts).
 *
 * Each write's idempotency key comes from Tally's ids, so a retry or a rerun after a crash at
 * any point replays the same requests and Stripe answers with what it did the first time.
 * Stripe keeps keys for 24 hours; a row first attempted longer ago than that looks its objects
 * up by metadata before writing again. 429s, 5xx, timeouts and dropped connections are retried:
 * first in place, a couple of times after a short jittered pause (a flaky second costs a
 * second), then by scheduling the row again. The backoff before that next attempt, exponential
 * with jitter, counts only attempts in a row that got no further than an earlier one (steps: the
 * customer, the draft, each item, finalization): an attempt that got further is followed by
 * another soon, so one flaky minute does not hold a 250-item invoice back for an hour. A row is
 * failed after `maxAttempts` attempts in a row without progress, or after ten times as many
 * attempts of any kind (an attempt cut short by a crash counts only there). Any other refusal
 * fails the row, which is kept with its error for an operator.
 *
 * Rows are isolated from each other: a row that fails (a tenant's Stripe customer that Stripe
 * refuses, say) is logged by id, counted in `tally_loop_item_failures_total{loop="sync"}`,
 * scheduled again or failed, and the run goes on with the other rows; it is not claimed again
 * in the same run, however soon its retry is due.
 */
export interface SyncDeps {
  pg: PostgresStore;
  /** The rated usage to push for meter-mode plans; without it, only invoices are synced. */
  ch?: ClickHouseStore;
  gateway: StripeGateway;
  limiter: WriteLimiter;
  metrics: SyncMetrics;
  logger: Logger;
  leaseSeconds: number;
  /** Give up on a row after this many attempts in a row that got no further. */
  maxAttempts: number;
  clock?: () => number;
  /** Delay before the next attempt of a row, by its attempts in a row without progress (default: exponential backoff with jitter). */
  backoff?: (stalled: number) => number;
  /** Pause before the n-th (1, 2) retry in place of a transient Stripe error (default: 200-600 ms x n, jittered). */
  retryPause?: (n: number) => number;
  /** `tally_loop_item_failures_total` (core/metrics.ts loopMetrics). */
  itemFailures?: Counter<'loop'>;
}

export interface SyncReport {
  claimed: number;
  done: number;
  retried: number;
  failed: number;
  /** The run stopped early: Stripe could not be reached for several rows in a row (the rest wait for the next run). */
  unreachable?: true;
}

/**
 * Rows in a row whose writes could not reach Stripe at all (connection refused, timed out):
 * Stripe, or the way to it, is down, and every further row would spend its in-place retries
 * (a second or so each) on the same, so the run stops and the next one tries again.
 */
const UNREACHABLE_ROWS = 5;

/** After this long, Stripe may have forgotten an idempotency key: look objects up first. */
const KEY_MEMORY_MS = 23 * 3_600_000;

/** The step of a finalized invoice: past every item of any invoice. */
const FINALIZED = 1_000_000;

/** A row is failed after this many times `maxAttempts` attempts of any kind, progress or not. */
const HARD_CAP_FACTOR = 10;

/** Retries in place of a transient error, before the row is scheduled again. */
const RETRIES_IN_PLACE = 2;

function defaultRetryPause(n: number): number {
  return Math.floor(n * (200 + Math.random() * 400));
}

export class BillingSync {
  private readonly outbox: Outbox;
  private readonly clock: () => number;
  /** The furthest step the current row's attempt completed (rows are processed one at a time). */
  private reached = 0;

  constructor(private readonly d: SyncDeps) {
    this.outbox = new Outbox(d.pg, randomUUID(), d.leaseSeconds);
    this.clock = d.clock ?? Date.now;
  }

  /** Works through every due row (in batches) until none is left, or until `deadline` (epoch ms). */
  async runOnce(batch = 20, deadline = Infinity): Promise<SyncReport> {
    const report: SyncReport = { claimed: 0, done: 0, retried: 0, failed: 0 };
    const setAside: string[] = [];
    let unreachable = 0;
    while (Date.now() < deadline) {
      const rows = await this.outbox.claim(batch, setAside);
      if (rows.length === 0) break;
      report.claimed += rows.length;
      for (const row of rows) {
        if (unreachable >= UNREACHABLE_ROWS) {
          // Claimed but not tried: given back as it was, due now, for the next run.
          await this.outbox.release(row.id);
          continue;
        }
        // Its lease ran out while earlier rows of the batch were worked on, and another worker has it.
        if (!(await this.outbox.renew(row.id))) continue;
        const { outcome, connection } = await this.process(row);
        report[outcome]++;
        unreachable = connection ? unreachable + 1 : 0;
        if (outcome !== 'done') {
          setAside.push(row.id);
          this.d.itemFailures?.inc({ loop: 'sync' });
        }
      }
      if (unreachable >= UNREACHABLE_ROWS) {
        report.unreachable = true;
        this.d.logger.warn({ rows: unreachable }, 'stripe could not be reached for several rows in a row; the run stops, the next one tries again');
        break;
      }
    }
    if (this.d.ch !== undefined) await this.pushMeters(this.d.ch, deadline);
    await this.observeOutbox();
    return report;
  }

  /** Usage of meter-mode plans to Stripe Billing Meters; a failure is logged and the next run goes on from what was recorded. */
  private async pushMeters(ch: ClickHouseStore, deadline: number): Promise<void> {
    try {
      const r = await pushMeterUsage(
        {
          ch,
          pg: this.d.pg,
          gateway: this.d.gateway,
          limiter: this.d.limiter,
          stripeCustomer: (t, c) => this.stripeCustomer(t, c),
          isRetryable,
          // One subscription's refusal (its Stripe customer gone, say) must not stop the others' pushes.
          onSubscriptionFailed: (sub, e) => {
            this.d.metrics.rows.inc({ kind: 'meter_usage', outcome: 'failed' });
            this.d.itemFailures?.inc({ loop: 'sync' });
            this.d.logger.warn(
              { tenantId: sub.tenantId, subscriptionId: sub.subscriptionId, error: errorClass(e), message: e instanceof Error ? e.message : String(e) },
              'pushing meter usage of a subscription failed; set aside until the next run',
            );
          },
        },
        deadline,
      );
      this.d.metrics.meterEvents.inc(r.events);
    } catch (e) {
      this.d.metrics.rows.inc({ kind: 'meter_usage', outcome: isRetryable(e) ? 'retried' : 'failed' });
      this.d.itemFailures?.inc({ loop: 'sync' });
      this.d.logger.warn({ error: errorClass(e), message: e instanceof Error ? e.message : String(e) }, 'pushing meter usage failed; the next run goes on from what was pushed');
    }
  }

  async observeOutbox(): Promise<void> {
    const s = await this.outbox.stats();
    for (const [state, n] of Object.entries(s.byState)) this.d.metrics.outboxRows.set({ state }, n);
    this.d.metrics.lag.set(s.oldestPendingSeconds);
  }

  /** `connection`: the attempt failed without reaching Stripe at all. */
  private async process(row: OutboxRow): Promise<{ outcome: 'done' | 'retried' | 'failed'; connection: boolean }> {
    this.reached = 0;
    try {
      // Attempts of any kind, including ones cut short by a crash, which never reach the count below.
      if (row.attempts > this.d.maxAttempts * HARD_CAP_FACTOR) throw new InvalidRow(`gave up after ${row.attempts - 1} attempts`);
      if (row.kind === 'invoice') await this.syncInvoice(row);
      else if (row.kind === 'credit_note') await this.syncCreditNote(row);
      else throw new Error(`unknown outbox kind ${row.kind}`);
      await this.outbox.done(row.id);
      this.d.metrics.rows.inc({ kind: row.kind, outcome: 'done' });
      return { outcome: 'done', connection: false };
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      // Getting further than any attempt before resets the count: the next attempt goes on from there, soon.
      const further = this.reached > row.steps_done;
      const stalled = further ? 0 : row.stalled_attempts + 1;
      if (!(e instanceof InvalidRow) && isRetryable(e) && stalled < this.d.maxAttempts) {
        const delay = (this.d.backoff ?? backoffMs)(stalled);
        await this.outbox.retry(row.id, message, delay, { stalled, stepsDone: Math.max(row.steps_done, this.reached) });
        this.d.metrics.rows.inc({ kind: row.kind, outcome: 'retried' });
        this.d.logger.warn(
          { row: row.id, tenant: row.tenant_id, kind: row.kind, ref: row.ref, attempts: row.attempts, stalled, steps: this.reached, error: errorClass(e), delay_ms: delay },
          'stripe write failed; retrying',
        );
        return { outcome: 'retried', connection: errorClass(e) === 'connection' };
      }
      await this.outbox.fail(row.id, message);
      this.d.metrics.rows.inc({ kind: row.kind, outcome: 'failed' });
      this.d.logger.error({ row: row.id, tenant: row.tenant_id, kind: row.kind, ref: row.ref, attempts: row.attempts, error: errorClass(e), message }, 'stripe write refused; the outbox row is failed');
      return { outcome: 'failed', connection: errorClass(e) === 'connection' };
    }
  }

  /** A Stripe write, under the write limit, retried in place. */
  private write<T>(fn: () => Promise<T>): Promise<T> {
    return this.inPlace(async () => {
      await this.d.limiter.take();
      return fn();
    });
  }

  /** The current attempt completed step `n` (whether it wrote it now or found it done). */
  private step(n: number): void {
    this.reached = Math.max(this.reached, n);
  }

  /** A Stripe read, retried in place. */
  private read<T>(fn: () => Promise<T>): Promise<T> {
    return this.inPlace(fn);
  }

  /**
   * Runs a Stripe request, retrying a transient error (429, 5xx, timeout, dropped connection) up
   * to RETRIES_IN_PLACE times after a short pause. The same request is repeated, with the same
   * idempotency key for a write, so Stripe applies it once however many times it is sent.
   */
  private async inPlace<T>(fn: () => Promise<T>): Promise<T> {
    for (let n = 0; ; n++) {
      try {
        return await fn();
      } catch (e) {
        if (n >= RETRIES_IN_PLACE || !isRetryable(e)) throw e;
        await new Promise((r) => setTimeout(r, (this.d.retryPause ?? defaultRetryPause)(n + 1)));
      }
    }
  }

  /** The Stripe customer of a Tally customer, created (once) when it has none; its id is kept on the customer. */
  async stripeCustomer(t: string, customerId: string, lookFirst = false): Promise<string> {
    try {
      return await ensureStripeCustomer({ pg: this.d.pg, gateway: this.d.gateway, read: (fn) => this.read(fn), write: (fn) => this.write(fn) }, t, customerId, lookFirst);
    } catch (e) {
      if (e instanceof NoSuchCustomer) throw new InvalidRow(e.message);
      throw e;
    }
  }

  private async syncInvoice(row: OutboxRow): Promise<void> {
    const pg = this.d.pg;
    const t = row.tenant_id;
    const old = this.clock() - row.created_at.getTime() > KEY_MEMORY_MS;
    const { rows } = await pg.query<{
      id: string;
      subscription_id: string;
      customer_id: string;
      currency: string;
      period_start: Date;
      period_end: Date;
      total: string;
      collection_method: 'charge_automatically' | 'send_invoice';
      days_until_due: number | null;
      number: string | null;
      purchase_order: string | null;
      issuer: { tax_id: string | null; footer: string | null } | null;
      status: InvoiceStatus;
      paid_out_of_band: unknown;
      stripe_invoice_id: string | null;
      synced_at: Date | null;
    }>(
      `SELECT id, subscription_id, customer_id, currency, period_start, period_end, total::text AS total, collection_method, days_until_due, number, purchase_order, issuer,
              status, paid_out_of_band, stripe_invoice_id, synced_at
         FROM invoices WHERE tenant_id = $1 AND id = $2`,
      [t, row.ref],
    );
    const inv = rows[0];
    if (inv === undefined) throw new InvalidRow(`invoice ${row.ref} does not exist`);
    if (inv.synced_at !== null) {
      // Finalized in Stripe before; the row is due again because finance changed the invoice.
      await this.mirror(t, inv.id, inv.stripe_invoice_id!, inv.status, inv.paid_out_of_band !== null);
      return;
    }
    // Voided before Stripe had any of it: there is nothing to write, now or later.
    if (inv.status === 'void' && inv.stripe_invoice_id === null) return;

    // Stripe's unit must carry Tally's total exactly (see currency.ts); otherwise nothing is written.
    const want = stripeAmount(inv.total, inv.currency);
    if (want === undefined) {
      throw new InvalidRow(`Stripe takes ${inv.currency} in whole units only; invoice ${inv.id} totals ${inv.total}, which it cannot carry exactly`);
    }

    // 1. The Stripe customer.
    const stripeCustomer = await this.stripeCustomer(t, inv.customer_id, old);
    this.step(1);

    // 2. The draft invoice.
    let stripeInvoice = inv.stripe_invoice_id;
    if (stripeInvoice === null) {
      const found = old ? await this.read(() => this.d.gateway.findInvoice(t, inv.id)) : undefined;
      const created =
        found ??
        (await this.write(() =>
          this.d.gateway.createInvoice(
            {
              tenantId: t,
              invoiceId: inv.id,
              subscriptionId: inv.subscription_id,
              stripeCustomer: stripeCustomer,
              currency: inv.currency,
              description: `Tally invoice ${inv.id}, ${inv.period_start.toISOString().slice(0, 10)} to ${inv.period_end.toISOString().slice(0, 10)}`,
              collection: inv.collection_method === 'send_invoice' ? { method: 'send_invoice', daysUntilDue: inv.days_until_due ?? DEFAULT_DAYS_UNTIL_DUE } : { method: 'charge_automatically' },
              number: inv.number,
              footer: inv.issuer?.footer ?? null,
              customFields: [
                ...(inv.purchase_order === null ? [] : [{ name: 'Purchase order', value: inv.purchase_order }]),
                ...(inv.issuer?.tax_id == null ? [] : [{ name: 'Tax ID', value: inv.issuer.tax_id }]),
              ],
            },
            idempotencyKey(t, 'invoice', inv.id, 'create'),
          ),
        ));
      stripeInvoice = created.id;
      await pg.query('UPDATE invoices SET stripe_invoice_id = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2', [t, inv.id, stripeInvoice]);
    }
    this.step(2);

    // 3. The items, while the invoice is a draft.
    const current = await this.read(() => this.d.gateway.getInvoice(stripeInvoice));
    if (current.status === 'draft') {
      const lines = (await pg.query<{ description: string; amount: string }>('SELECT description, amount::text AS amount FROM invoice_lines WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY line_no', [t, inv.id])).rows;
      const scale = stripeScale(inv.currency);
      const items = toItems(lines, scale.decimals);
      const present = old ? await this.read(() => this.d.gateway.itemLines(stripeInvoice)) : new Set<string>();
      for (const [n, item] of items.entries()) {
        const tag = item.lines.length === 1 ? String(item.lines[0]) : `${item.lines[0]}-${item.lines.at(-1)}`;
        if (!present.has(tag)) {
          await this.write(() =>
            this.d.gateway.createInvoiceItem(
              { stripeCustomer: stripeCustomer, stripeInvoice: stripeInvoice, currency: inv.currency, amount: item.minor * scale.factor, description: item.description, tenantId: t, invoiceId: inv.id, lines: tag, exact: item.amount },
              idempotencyKey(t, 'invoice', inv.id, 'item', n + 1),
            ),
          );
        }
        this.step(3 + n);
      }
      // 4. Finalize: Stripe collects an open invoice (auto_advance); one finance already
      // settled (paid out of band, void, written off) is finalized held, never charged.
      const collect = inv.status === 'open';
      await this.write(() => this.d.gateway.finalizeInvoice(stripeInvoice, collect, idempotencyKey(t, 'invoice', inv.id, collect ? 'finalize' : 'finalize-held')));
    }
    this.step(FINALIZED);
    const final = await this.read(() => this.d.gateway.getInvoice(stripeInvoice));
    if (final.total !== want) throw new InvalidRow(`Stripe invoice ${stripeInvoice} totals ${final.total} minor units; Tally's invoice ${inv.id} totals ${want}`);
    await pg.transaction(async (tx) => {
      // Stripe's page for paying it, which the hosted invoice page links to.
      await tx.query('UPDATE invoices SET synced_at = now(), due_at = $3, stripe_hosted_url = $4, updated_at = now() WHERE tenant_id = $1 AND id = $2', [
        t,
        inv.id,
        final.dueDate === null ? null : new Date(final.dueDate * 1000),
        final.hostedUrl,
      ]);
      await emit(tx, await invoiceEvents(tx, [{ tenantId: t, id: inv.id }], 'invoice.finalized'));
    });
    await this.mirror(t, inv.id, stripeInvoice, inv.status, inv.paid_out_of_band !== null);
  }

  /**
   * A credit note, once its invoice is finalized in Stripe: the amount in minor units, refunded
   * or recorded as given back outside Stripe on a paid invoice. Credit to the customer's balance
   * is Tally's (a credit grant its next invoices use), so Stripe records it as out of band:
   * given to Stripe's customer balance as well, it would be used twice.
   */
  private async syncCreditNote(row: OutboxRow): Promise<void> {
    const t = row.tenant_id;
    const cn = (
      await this.d.pg.query<{
        id: string;
        number: string;
        invoice_id: string;
        currency: string;
        amount: string;
        settlement: string;
        reason: string;
        memo: string | null;
        stripe_credit_note_id: string | null;
        stripe_invoice_id: string | null;
        synced_at: Date | null;
        paid_out_of_band: unknown;
      }>(
        `SELECT c.id, c.number, c.invoice_id, c.currency, c.amount::text AS amount, c.settlement, c.reason, c.memo, c.stripe_credit_note_id, i.stripe_invoice_id, i.synced_at, i.paid_out_of_band
           FROM credit_notes c JOIN invoices i ON i.tenant_id = c.tenant_id AND i.id = c.invoice_id WHERE c.tenant_id = $1 AND c.id = $2`,
        [t, row.ref],
      )
    ).rows[0];
    if (cn === undefined) throw new InvalidRow(`credit note ${row.ref} does not exist`);
    if (cn.stripe_credit_note_id !== null) return;
    // Retried (with backoff) until billing sync has finalized the invoice in Stripe.
    if (cn.synced_at === null || cn.stripe_invoice_id === null) throw new Error(`credit note ${cn.id} waits for invoice ${cn.invoice_id} to be finalized in Stripe`);
    const amount = stripeAmount(cn.amount, cn.currency);
    if (amount === undefined) throw new InvalidRow(`Stripe takes ${cn.currency} in whole units only; credit note ${cn.id} of ${cn.amount} cannot be carried exactly`);
    const stripeInvoice = cn.stripe_invoice_id;
    const old = this.clock() - row.created_at.getTime() > KEY_MEMORY_MS;
    let settle: 'reduce_due' | 'refund' | 'out_of_band' = cn.settlement === 'reduce_due' ? 'reduce_due' : cn.settlement === 'refund' ? 'refund' : 'out_of_band';
    if (settle === 'reduce_due') {
      // Made while the invoice was open, but Stripe collected it before the note got there (a
      // card charged at finalization): what the note takes back is owed to the customer now, so
      // Stripe refunds it; paid outside Stripe, it is given back outside Stripe.
      const now = await this.read(() => this.d.gateway.getInvoice(stripeInvoice));
      if (now.status === 'paid') {
        settle = cn.paid_out_of_band === null ? 'refund' : 'out_of_band';
        await this.d.pg.query('UPDATE credit_notes SET settlement = $3 WHERE tenant_id = $1 AND id = $2', [t, cn.id, settle]);
      }
    }
    const id =
      (old ? await this.read(() => this.d.gateway.findCreditNote(stripeInvoice, cn.id)) : undefined) ??
      (await this.write(() =>
        this.d.gateway.createCreditNote(
          { stripeInvoice, amount, settle, reason: cn.reason, memo: cn.memo, tenantId: t, creditNoteId: cn.id, number: cn.number },
          idempotencyKey(t, 'credit_note', cn.id, 'create'),
        ),
      ));
    this.step(1);
    await this.d.pg.query('UPDATE credit_notes SET stripe_credit_note_id = $3 WHERE tenant_id = $1 AND id = $2', [t, cn.id, id]);
  }

  /**
   * Brings a finalized Stripe invoice to what finance made of Tally's: void, paid out of band,
   * uncollectible. Only an invoice Stripe still collects (open or uncollectible) is changed;
   * once Stripe has it paid or void, that stands (its webhook tells Tally) and nothing is sent.
   */
  private async mirror(t: string, invoiceId: string, stripeInvoice: string, status: InvoiceStatus, outOfBand: boolean): Promise<void> {
    if (status === 'open' || status === 'draft' || (status === 'paid' && !outOfBand)) return;
    const now = await this.read(() => this.d.gateway.getInvoice(stripeInvoice));
    if (now.status !== 'open' && now.status !== 'uncollectible') return;
    if (status === 'void') await this.write(() => this.d.gateway.voidInvoice(stripeInvoice, idempotencyKey(t, 'invoice', invoiceId, 'void')));
    else if (status === 'paid') await this.write(() => this.d.gateway.payOutOfBand(stripeInvoice, idempotencyKey(t, 'invoice', invoiceId, 'paid-out-of-band')));
    else if (now.status === 'open') await this.write(() => this.d.gateway.markUncollectible(stripeInvoice, idempotencyKey(t, 'invoice', invoiceId, 'uncollectible')));
    this.step(FINALIZED + 1);
  }
}

type InvoiceStatus = 'draft' | 'open' | 'paid' | 'void' | 'uncollectible';

/** A row that can never succeed (its object is gone): failed at once, not retried. */
class InvalidRow extends Error {}
