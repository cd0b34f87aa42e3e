import { newId } from '../core/ids.js';
import type { Queryable } from '../core/postgres.js';
import { tallySends, type CollectionMethod, type Collector, type MailKind } from './rules.js';

/**
 * Putting mails in the outbox (the 0029 migration), inside the transaction of what causes them
 * (the caller's `q`), so a mail commits with its invoice or credit note or not at all. A mail
 * whose dedup key the tenant already has is not enqueued again.
 */
export interface MailIntent {
  tenantId: string;
  kind: MailKind;
  invoiceId: string;
  creditNoteId?: string | undefined;
  /** Unique per tenant (rules.ts mailKey). */
  key: string;
}

export interface EnqueueSettings {
  /** Whether billing sync to Stripe is configured (STRIPE_SECRET_KEY): who collects depends on it. */
  stripeSync: boolean;
  /** The domain of the Message-IDs (TALLY_MAIL_FROM's). */
  messageDomain: string;
  /** Called for each mail not enqueued because its customer has no email address. */
  onNoRecipient?: (intent: MailIntent) => void;
}

export interface Enqueued {
  enqueued: number;
  /** Mails Stripe sends itself, or not due at all (rules.ts). */
  leftToStripe: number;
  noRecipient: number;
}

/**
 * The SQL of who collects invoice `i` (rules.ts Collector), `$stripe` being whether billing sync
 * is configured. An invoice meant for Stripe has an outbox row from the transaction that issued
 * it (stripe/outbox.ts), and its Stripe id once synced.
 */
export const collectorSql = (i: string, stripe: string) => `CASE WHEN NOT ${stripe} THEN 'tally'
  WHEN ${i}.stripe_invoice_id IS NOT NULL OR EXISTS (SELECT 1 FROM stripe_outbox o WHERE o.tenant_id = ${i}.tenant_id AND o.kind = 'invoice' AND o.ref = ${i}.id) THEN 'stripe_invoice'
  ELSE 'stripe_meter' END`;

/** `<id@domain>`: fixed with the row, so every attempt of a mail carries the same Message-ID. */
export const messageIdOf = (id: string, domain: string): string => `<${id}@${domain}>`;

export async function enqueueMail(q: Queryable, intents: readonly MailIntent[], s: EnqueueSettings): Promise<Enqueued> {
  const report: Enqueued = { enqueued: 0, leftToStripe: 0, noRecipient: 0 };
  if (intents.length === 0) return report;
  const { rows } = await q.query<{ tenant_id: string; id: string; collection_method: CollectionMethod; collector: Collector; email: string | null }>(
    `SELECT i.tenant_id, i.id, i.collection_method, ${collectorSql('i', '$3::boolean')} AS collector, c.email
       FROM invoices i LEFT JOIN customers c ON c.tenant_id = i.tenant_id AND c.id = i.customer_id
      WHERE i.tenant_id = ANY($1) AND i.id = ANY($2)`,
    [[...new Set(intents.map((m) => m.tenantId))], [...new Set(intents.map((m) => m.invoiceId))], s.stripeSync],
  );
  const facts = new Map(rows.map((r) => [`${r.tenant_id}\n${r.id}`, r]));
  const rowsToInsert: { intent: MailIntent; recipient: string; id: string }[] = [];
  for (const intent of intents) {
    const f = facts.get(`${intent.tenantId}\n${intent.invoiceId}`);
    if (f === undefined || !tallySends(intent.kind, f.collector, f.collection_method)) {
      report.leftToStripe++;
      continue;
    }
    const recipient = f.email?.trim() ?? '';
    if (recipient === '') {
      report.noRecipient++;
      s.onNoRecipient?.(intent);
      continue;
    }
    rowsToInsert.push({ intent, recipient, id: newId('ml') });
  }
  if (rowsToInsert.length === 0) return report;
  const inserted = await q.query(
    `INSERT INTO mail_outbox (tenant_id, id, kind, invoice_id, credit_note_id, recipient, dedup_key, message_id)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
     ON CONFLICT (tenant_id, dedup_key) DO NOTHING`,
    [
      rowsToInsert.map((r) => r.intent.tenantId),
      rowsToInsert.map((r) => r.id),
      rowsToInsert.map((r) => r.intent.kind),
      rowsToInsert.map((r) => r.intent.invoiceId),
      rowsToInsert.map((r) => r.intent.creditNoteId ?? null),
      rowsToInsert.map((r) => r.recipient),
      rowsToInsert.map((r) => r.intent.key),
      rowsToInsert.map((r) => messageIdOf(r.id, s.messageDomain)),
    ],
  );
  report.enqueued = inserted.rowCount ?? 0;
  return report;
}
