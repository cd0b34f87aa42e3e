import { minorUnits } from '../core/currency.js';
import type { PostgresStore, Queryable } from '../core/postgres.js';
import { paymentTerms, type InvoiceView } from './invoice-view.js';
import type { Issuer } from './billing-profile.js';
import { withDetail, type InvoiceLine, type LineType } from './compose.js';
import { Dec, plain } from '../core/money.js';

/**
 * Reading invoices back: the shape of DESIGN.md (the one upcoming invoices have too), with
 * line amounts at 6 decimal places and totals at the currency's minor unit.
 */
interface InvoiceRow {
  id: string;
  subscription_id: string;
  customer_id: string;
  currency: string;
  period_start: Date;
  period_end: Date;
  status: InvoiceView['status'];
  subtotal: string;
  discount: string;
  credit: string;
  tax: string;
  total: string;
  kind: InvoiceView['kind'];
  number: string | null;
  issuer: Issuer | null;
  purchase_order: string | null;
  collection_method: InvoiceView['collection_method'];
  days_until_due: number | null;
  due_at: Date | null;
  paid_at: Date | null;
  paid_out_of_band: InvoiceView['paid_out_of_band'];
  credited: string;
  status_reason: string | null;
  overdue_at: Date | null;
  overdue_since: Date | null;
  days_overdue: number | null;
  stripe_invoice_id: string | null;
  created_at: Date;
}

interface LineRow {
  invoice_id: string;
  type: LineType;
  meter: string | null;
  quantity: string | null;
  amount: string;
  description: string;
  plan_code: string | null;
  plan_version: number | null;
  line_start: Date | null;
  line_end: Date | null;
  adjusts_period_start: Date | null;
  detail: Parameters<typeof withDetail>[1];
}

export interface InvoiceFilter {
  customer?: string | undefined;
  subscription?: string | undefined;
  status?: InvoiceView['status'] | undefined;
  /** Issued at or after / before these instants. */
  issuedFrom?: Date | undefined;
  issuedBefore?: Date | undefined;
  /** true: only invoices overdue now (see overdueSince); false: only the others. */
  overdue?: boolean | undefined;
  limit: number;
  startingAfter?: string | undefined;
}



/**
 * Since when an open invoice is overdue: a send_invoice invoice from its due date once that has
 * passed; one charged automatically from its first failed payment (it was due when finalized).
 */
const overdueSince = (now: string) => `CASE WHEN status <> 'open' THEN NULL
  WHEN collection_method = 'send_invoice' THEN CASE WHEN due_at <= ${now} THEN due_at END
  ELSE payment_failed_at END`;

/** The columns of a read; `now` is the SQL of the instant overdue is judged at. */
const columns = (now: string) => `id, subscription_id, customer_id, currency, period_start, period_end, status, subtotal::text AS subtotal, discount::text AS discount, credit::text AS credit,
  tax::text AS tax, total::text AS total, kind, number, issuer, purchase_order, collection_method, days_until_due, due_at, paid_at, credited::text AS credited, paid_out_of_band, status_reason, overdue_at, stripe_invoice_id, created_at,
  ${overdueSince(now)} AS overdue_since, floor(extract(epoch FROM ${now} - (${overdueSince(now)})) / 86400)::int AS days_overdue`;

/** numeric text at a fixed number of places ("329.000000" → "329.00"); the stored value already has no more. */
function places(s: string, n: number): string {
  const [i, f = ''] = s.split('.');
  return n === 0 ? i! : `${i}.${(f + '0'.repeat(n)).slice(0, n)}`;
}

export class InvoiceRepository {
  constructor(
    private readonly pg: PostgresStore,
    /** Epoch milliseconds now, which overdue is judged at (tests move it). */
    private readonly clock: () => number = Date.now,
  ) {}

  /** `q`: a transaction to read in (a change answers with the invoice as it left it). */
  async get(tenantId: string, id: string, q: Queryable = this.pg): Promise<InvoiceView | undefined> {
    const { rows } = await q.query<InvoiceRow>(`SELECT ${columns('$3::timestamptz')} FROM invoices WHERE tenant_id = $1 AND id = $2`, [tenantId, id, new Date(this.clock())]);
    return rows[0] === undefined ? undefined : (await this.withLines(tenantId, rows, q))[0];
  }

  async list(tenantId: string, f: InvoiceFilter): Promise<{ data: InvoiceView[]; has_more: boolean }> {
    const { rows } = await this.pg.query<InvoiceRow>(
      `SELECT ${columns('$10::timestamptz')} FROM invoices
        WHERE tenant_id = $1 AND ($2::text IS NULL OR customer_id = $2) AND ($3::text IS NULL OR subscription_id = $3) AND ($4::text IS NULL OR id > $4)
          AND ($6::text IS NULL OR status = $6) AND ($7::timestamptz IS NULL OR created_at >= $7) AND ($8::timestamptz IS NULL OR created_at < $8)
          AND ($9::boolean IS NULL OR ((${overdueSince('$10::timestamptz')}) IS NOT NULL) = $9)
        ORDER BY id LIMIT $5`,
      [tenantId, f.customer ?? null, f.subscription ?? null, f.startingAfter ?? null, f.limit + 1, f.status ?? null, f.issuedFrom ?? null, f.issuedBefore ?? null, f.overdue ?? null, new Date(this.clock())],
    );
    return { data: await this.withLines(tenantId, rows.slice(0, f.limit)), has_more: rows.length > f.limit };
  }

  private async withLines(tenantId: string, invoices: InvoiceRow[], q: Queryable = this.pg): Promise<InvoiceView[]> {
    if (invoices.length === 0) return [];
    const { rows } = await q.query<LineRow>(
      `SELECT invoice_id, type, meter, quantity::text AS quantity, amount::text AS amount, description, plan_code, plan_version, line_start, line_end, adjusts_period_start, detail
         FROM invoice_lines WHERE tenant_id = $1 AND invoice_id = ANY($2) ORDER BY invoice_id, line_no`,
      [tenantId, invoices.map((i) => i.id)],
    );
    const lines = new Map<string, InvoiceLine[]>();
    for (const l of rows) {
      const line: InvoiceLine = {
        type: l.type,
        meter: l.meter,
        quantity: l.quantity === null ? null : plain(l.quantity),
        amount: places(l.amount, 6),
        description: l.description,
        plan: l.plan_code === null ? null : { code: l.plan_code, version: l.plan_version! },
        period: l.line_start === null ? null : { start: l.line_start.toISOString(), end: l.line_end!.toISOString() },
      };
      if (l.adjusts_period_start !== null) line.adjusts_period_start = l.adjusts_period_start.toISOString();
      withDetail(line, l.detail);
      lines.set(l.invoice_id, [...(lines.get(l.invoice_id) ?? []), line]);
    }
    return invoices.map((i) => ({ ...summary(i), lines: lines.get(i.id) ?? [] }));
  }
}

/** A stored invoice without its lines (the `data` of invoice webhook events). */
export type InvoiceSummary = Omit<InvoiceView, 'lines' | 'id' | 'created_at'> & { id: string; created_at: string };

function summary(i: InvoiceRow): InvoiceSummary {
  const n = minorUnits(i.currency);
  return {
    id: i.id,
    subscription: i.subscription_id,
    customer: i.customer_id,
    currency: i.currency,
    period_start: i.period_start.toISOString(),
    period_end: i.period_end.toISOString(),
    status: i.status,
    kind: i.kind,
    number: i.number,
    issued_at: i.created_at.toISOString(),
    payment_terms: paymentTerms(i.collection_method, i.days_until_due),
    purchase_order: i.purchase_order,
    issuer: i.issuer,
    subtotal: places(i.subtotal, n),
    discount: places(i.discount, n),
    credit: places(i.credit, n),
    tax: places(i.tax, n),
    total: places(i.total, n),
    collection_method: i.collection_method,
    days_until_due: i.days_until_due,
    due_at: i.due_at?.toISOString() ?? null,
    paid_at: i.paid_at?.toISOString() ?? null,
    credited: places(plain(i.credited), n),
    amount_due: i.status === 'open' ? places(new Dec(i.total).minus(i.credited).toFixed(), n) : places('0', n),
    paid_out_of_band: i.paid_out_of_band,
    status_reason: i.status_reason,
    overdue_at: i.overdue_at?.toISOString() ?? null,
    overdue_since: i.overdue_since?.toISOString() ?? null,
    days_overdue: i.days_overdue,
    stripe_invoice_id: i.stripe_invoice_id,
    created_at: i.created_at.toISOString(),
  };
}

/** These invoices without their lines, read with `q` (a transaction sees what it wrote), with their tenants. */
export async function invoiceSummaries(q: Queryable, refs: readonly { tenantId: string; id: string }[]): Promise<{ tenantId: string; invoice: InvoiceSummary }[]> {
  if (refs.length === 0) return [];
  const { rows } = await q.query<InvoiceRow & { tenant_id: string }>(`SELECT tenant_id, ${columns('now()')} FROM invoices WHERE tenant_id = ANY($1) AND id = ANY($2) ORDER BY id`, [
    [...new Set(refs.map((r) => r.tenantId))],
    refs.map((r) => r.id),
  ]);
  const wanted = new Set(refs.map((r) => `${r.tenantId}\n${r.id}`));
  return rows.filter((r) => wanted.has(`${r.tenant_id}\n${r.id}`)).map((r) => ({ tenantId: r.tenant_id, invoice: summary(r) }));
}


/** The periods that have an invoice (all tenants', or one tenant's): (tenant, subscription, period start). */
export async function invoicedPeriods(q: Queryable, tenantId?: string): Promise<{ tenantId: string; subscriptionId: string; periodStart: Date }[]> {
  const { rows } = await q.query<{ tenant_id: string; subscription_id: string; period_start: Date }>(
    "SELECT tenant_id, subscription_id, period_start FROM invoices WHERE ($1::text IS NULL OR tenant_id = $1) AND kind = 'period'",
    [tenantId ?? null],
  );
  return rows.map((r) => ({ tenantId: r.tenant_id, subscriptionId: r.subscription_id, periodStart: r.period_start }));
}
