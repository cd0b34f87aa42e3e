import { z } from 'zod';
import { TallyError } from '../core/errors.js';
import { AddressSchema, EMAIL, type Address } from '../catalog/address.js';
import type { PostgresStore, Queryable } from '../core/postgres.js';
import { LINE_TEXT, LINE_TEXT_RULE, LINES_TEXT, LINES_TEXT_RULE } from '../core/display-text.js';

/**
 * The tenant as the issuer of its invoices (see the 0023 migration): the details every invoice
 * carries (legal name, address, tax id, contact email, footer) and its invoice numbers, a
 * gapless sequence `PREFIX-0001`, `PREFIX-0002`, ... taken in the transaction that issues the
 * invoices. Each invoice keeps the issuer's details as they were when it was issued.
 */
export type { Address };
export interface BillingProfile {
  legal_name: string | null;
  address: Address | null;
  tax_id: string | null;
  email: string | null;
  footer: string | null;
  invoice_prefix: string;
  /** The number the next issued invoice gets. */
  next_invoice_number: string;
  updated_at: string;
}

/** What an invoice carries of its issuer; the legal name falls back to the tenant's name. */
export interface Issuer {
  legal_name: string;
  address: Address | null;
  tax_id: string | null;
  email: string | null;
  footer: string | null;
}

const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max).regex(LINE_TEXT, LINE_TEXT_RULE);
/** The footer may run over lines. */
const lines = (max: number) => z.string().trim().min(1, 'must not be empty').max(max).regex(LINES_TEXT, LINES_TEXT_RULE);

export const UpdateBillingProfile = z.strictObject({
  legal_name: text(200).nullable().optional(),
  address: AddressSchema.nullable().optional(),
  tax_id: text(64).nullable().optional(),
  email: z.string().trim().max(254).regex(EMAIL, 'must be an email address').nullable().optional(),
  footer: lines(5000).nullable().optional(),
  // Checked as given (ASCII letters and digits), then upper-cased: no letter may turn into
  // others on the way ("ß" would become "SS").
  invoice_prefix: z
    .string()
    .regex(/^[A-Za-z0-9]{3,12}$/, 'must be 3 to 12 letters or digits (Stripe shows it before each invoice number)')
    .transform((p) => p.toUpperCase())
    .optional(),
});
export type UpdateBillingProfileInput = z.output<typeof UpdateBillingProfile>;

/** A billing_profiles row: the API shape with its timestamp as a Date. */
type Row = Omit<BillingProfile, 'updated_at'> & { updated_at: Date };

const COLUMNS = 'legal_name, address, tax_id, email, footer, invoice_prefix, next_invoice_number::text AS next_invoice_number, updated_at';

const view = (r: Row): BillingProfile => ({ ...r, updated_at: r.updated_at.toISOString() });

/** `PREFIX-0042`: Stripe's own shape of an invoice number. */
export const invoiceNumber = (prefix: string, n: bigint | number | string): string => `${prefix}-${String(n).padStart(4, '0')}`;

/** Prefixes to try for a tenant without a profile: from its name, made unique with a digit. */
function prefixCandidates(tenantName: string): string[] {
  const letters = tenantName.toUpperCase().replace(/[^A-Z0-9]/g, '').slice(0, 8);
  const base = letters.length >= 3 ? letters : `INV${letters}`.slice(0, 8);
  return [base, ...Array.from({ length: 999 }, (_, i) => `${base}${i + 2}`)];
}

/**
 * Whether prefix $2 is on invoices of a tenant other than $1: numbers must stay unique in the
 * Stripe account, so a prefix a tenant gave up is not free for another.
 */
const USED_ELSEWHERE = "EXISTS (SELECT 1 FROM invoices WHERE tenant_id <> $1 AND number LIKE $2 || '-%')";

/** The tenant's profile, made with a default prefix the first time it is needed. */
export async function ensureProfile(q: Queryable, tenantId: string): Promise<Row> {
  const read = async () => (await q.query<Row>(`SELECT ${COLUMNS} FROM billing_profiles WHERE tenant_id = $1`, [tenantId])).rows[0];
  const existing = await read();
  if (existing !== undefined) return existing;
  const name = (await q.query<{ name: string }>('SELECT name FROM tenants WHERE id = $1', [tenantId])).rows[0]?.name ?? 'INV';
  for (const prefix of prefixCandidates(name)) {
    // DO NOTHING without a target: a prefix another tenant holds is skipped like a profile made
    // meanwhile; so is one another tenant's issued invoices carry (it used it before).
    await q.query(`INSERT INTO billing_profiles (tenant_id, invoice_prefix) SELECT $1, $2 WHERE NOT (${USED_ELSEWHERE}) ON CONFLICT DO NOTHING`, [tenantId, prefix]);
    const made = await read();
    if (made !== undefined) return made;
  }
  throw new Error(`no free invoice prefix for tenant ${tenantId}`);
}

/**
 * Takes the next `count` invoice numbers of a tenant inside `tx` (the transaction that writes
 * the invoices: if it rolls back, so does the counter, so no number is ever skipped), with the
 * issuer details the invoices carry. The row lock serializes concurrent issuers of a tenant.
 */
export async function takeNumbers(tx: Queryable, tenantId: string, count: number): Promise<{ numbers: string[]; issuer: Issuer }> {
  await ensureProfile(tx, tenantId);
  const { rows } = await tx.query<Row & { first: string; tenant_name: string }>(
    `UPDATE billing_profiles b SET next_invoice_number = next_invoice_number + $2
       FROM tenants t WHERE b.tenant_id = $1 AND t.id = b.tenant_id
     RETURNING (b.next_invoice_number - $2)::text AS first, b.invoice_prefix, b.legal_name, b.address, b.tax_id, b.email, b.footer, t.name AS tenant_name`,
    [tenantId, count],
  );
  const r = rows[0]!;
  const first = BigInt(r.first);
  return { numbers: Array.from({ length: count }, (_, i) => invoiceNumber(r.invoice_prefix, first + BigInt(i))), issuer: issuerOf(r) };
}

/** The issuer an invoice issued now would carry (a draft's preview shows it); no profile is made. */
export async function currentIssuer(q: Queryable, tenantId: string): Promise<Issuer | undefined> {
  const { rows } = await q.query<Row & { tenant_name: string }>(
    `SELECT b.legal_name, b.address, b.tax_id, b.email, b.footer, t.name AS tenant_name FROM tenants t LEFT JOIN billing_profiles b ON b.tenant_id = t.id WHERE t.id = $1`,
    [tenantId],
  );
  return rows[0] === undefined ? undefined : issuerOf(rows[0]);
}

const issuerOf = (r: Pick<Row, 'legal_name' | 'address' | 'tax_id' | 'email' | 'footer'> & { tenant_name: string }): Issuer => ({
  legal_name: r.legal_name ?? r.tenant_name,
  address: r.address,
  tax_id: r.tax_id,
  email: r.email,
  footer: r.footer,
});

export class BillingProfileService {
  constructor(private readonly pg: PostgresStore) {}

  async get(tenantId: string): Promise<BillingProfile> {
    return view(await ensureProfile(this.pg, tenantId));
  }

  async update(tenantId: string, u: UpdateBillingProfileInput): Promise<BillingProfile> {
    return this.pg.transaction(async (tx) => {
      await ensureProfile(tx, tenantId);
      const taken = () => new TallyError('TALLY_ERR_ALREADY_EXISTS', `invoice prefix ${u.invoice_prefix} is taken by another tenant; invoice numbers must be unique in the Stripe account`, { field: 'invoice_prefix' });
      if (u.invoice_prefix !== undefined) {
        const used = await tx.query(`SELECT 1 FROM billing_profiles WHERE invoice_prefix = $2 AND tenant_id <> $1 UNION ALL SELECT 1 WHERE ${USED_ELSEWHERE}`, [tenantId, u.invoice_prefix]);
        if (used.rows.length > 0) throw taken();
      }
      const set = (v: unknown) => v !== undefined;
      const { rows } = await updateOr409(taken, () => tx.query<Row>(
        `UPDATE billing_profiles SET
           legal_name = CASE WHEN $2 THEN $3 ELSE legal_name END,
           address = CASE WHEN $4 THEN $5::jsonb ELSE address END,
           tax_id = CASE WHEN $6 THEN $7 ELSE tax_id END,
           email = CASE WHEN $8 THEN $9 ELSE email END,
           footer = CASE WHEN $10 THEN $11 ELSE footer END,
           invoice_prefix = COALESCE($12, invoice_prefix),
           updated_at = now()
         WHERE tenant_id = $1 RETURNING ${COLUMNS}`,
        [
          tenantId,
          set(u.legal_name), u.legal_name ?? null,
          set(u.address), u.address === undefined || u.address === null ? null : JSON.stringify(u.address),
          set(u.tax_id), u.tax_id ?? null,
          set(u.email), u.email ?? null,
          set(u.footer), u.footer ?? null,
          u.invoice_prefix ?? null,
        ],
      ));
      return view(rows[0]!);
    });
  }
}

/** Runs `write`; another tenant taking the same prefix at the same moment (a unique violation) is the 409 a check would have given. */
async function updateOr409<T>(taken: () => TallyError, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (e) {
    if ((e as { code?: unknown }).code === '23505') throw taken();
    throw e;
  }
}
