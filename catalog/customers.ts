import { z } from 'zod';
import { TallyError } from '../core/errors.js';
import type { PostgresStore, Queryable } from '../core/postgres.js';
import { isCountry } from '../core/country.js';
import { isCurrency } from '../core/currency.js';
import { AddressSchema, EMAIL, LocaleSchema, TimeZoneSchema, type Address } from './address.js';
import { mergeMetadata, Metadata } from './metadata.js';
import { LINE_TEXT, LINE_TEXT_RULE } from '../core/display-text.js';

/**
 * Customers, identified by the tenant's own id: the `customer` its events name. The currency
 * is fixed at creation (every price and invoice of the customer is in it); metadata follows
 * Stripe's limits and merge rule (a key set to "" is removed).
 */
export interface Customer {
  id: string;
  name: string;
  email: string | null;
  currency: string;
  country: string | null;
  /** A state or province within the country (e.g. CA), for regional tax rates. */
  region: string | null;
  /** The billing address printed on the customer's invoices. */
  address: Address | null;
  /** BCP 47 locale of the customer's invoice documents and emails (amounts, dates); en-US when null. */
  locale: string | null;
  /** IANA time zone of the customer's daily, weekly and monthly entitlement windows; UTC when null. */
  timezone: string | null;
  tax_exempt: boolean;
  /** How Stripe collects its invoices: charges the default payment method, or emails them with net terms. */
  collection_method: CollectionMethod;
  /** Net terms of `send_invoice`: days from finalization until an invoice is due; null with `charge_automatically`. */
  days_until_due: number | null;
  /** The customer's purchase-order reference, printed on each invoice closed while it is set. */
  purchase_order: string | null;
  stripe_customer_id: string | null;
  metadata: Record<string, string>;
  created_at: string;
  updated_at: string;
}

export const COLLECTION_METHODS = ['charge_automatically', 'send_invoice'] as const;
export type CollectionMethod = (typeof COLLECTION_METHODS)[number];
/** Net terms when `send_invoice` is chosen without them (Net 30). */
export const DEFAULT_DAYS_UNTIL_DUE = 30;

const NO_CONTROL = /^[^\u0000-\u001f\u007f]+$/;

const id = z.string().min(1, 'must not be empty').max(256).regex(NO_CONTROL, 'must not contain control characters');
const name = z.string().trim().min(1, 'must not be empty').max(200).regex(LINE_TEXT, LINE_TEXT_RULE);
const email = z.string().trim().max(254).regex(EMAIL, 'must be an email address such as billing@example.com');
const currency = z
  .string()
  .transform((c) => c.toUpperCase())
  .refine(isCurrency, 'must be an ISO 4217 currency code such as USD, EUR or JPY');
const region = z
  .string()
  .trim()
  .transform((r) => r.toUpperCase())
  .pipe(z.string().regex(/^[A-Z0-9-]{1,10}$/, 'must be a region code such as CA or BY (letters, digits, -)'));

const country = z
  .string()
  .transform((c) => c.toUpperCase())
  .refine(isCountry, 'must be an ISO 3166-1 alpha-2 country code such as US or DE');
const collectionMethod = z.enum(COLLECTION_METHODS);
const purchaseOrder = z.string().trim().min(1, 'must not be empty').max(100).regex(LINE_TEXT, LINE_TEXT_RULE);
const daysUntilDue = z.number().int('must be a whole number of days').min(0).max(365);
const ONLY_WITH_SEND_INVOICE = 'applies only with collection_method send_invoice (net terms); charge_automatically invoices are charged when finalized';

const stripeId = z.string().regex(/^cus_[A-Za-z0-9]{1,250}$/, 'must be a Stripe customer id (cus_...)');

export const CreateCustomer = z.strictObject({
  id,
  name,
  email: email.optional(),
  currency,
  country: country.optional(),
  region: region.optional(),
  address: AddressSchema.optional(),
  locale: LocaleSchema.optional(),
  timezone: TimeZoneSchema.optional(),
  tax_exempt: z.boolean().optional(),
  collection_method: collectionMethod.optional(),
  days_until_due: daysUntilDue.optional(),
  purchase_order: purchaseOrder.optional(),
  stripe_customer_id: stripeId.optional(),
  metadata: Metadata.optional(),
}).superRefine((c, ctx) => {
  if (c.days_until_due !== undefined && c.collection_method !== 'send_invoice') ctx.addIssue({ code: 'custom', path: ['days_until_due'], message: ONLY_WITH_SEND_INVOICE });
});
export type CreateCustomerInput = z.output<typeof CreateCustomer>;

const IMMUTABLE = new Set(['id', 'currency']);
export const UpdateCustomer = z
  .object({
    name: name.optional(),
    email: email.nullable().optional(),
    country: country.nullable().optional(),
    region: region.nullable().optional(),
    address: AddressSchema.nullable().optional(),
    locale: LocaleSchema.nullable().optional(),
    timezone: TimeZoneSchema.nullable().optional(),
    tax_exempt: z.boolean().optional(),
    collection_method: collectionMethod.optional(),
    days_until_due: daysUntilDue.optional(),
    purchase_order: purchaseOrder.nullable().optional(),
    stripe_customer_id: stripeId.nullable().optional(),
    metadata: Metadata.optional(),
  })
  .catchall(z.unknown())
  .superRefine((m, ctx) => {
    for (const k of Object.keys(m)) {
      if (['name', 'email', 'country', 'region', 'address', 'locale', 'timezone', 'tax_exempt', 'collection_method', 'days_until_due', 'purchase_order', 'stripe_customer_id', 'metadata'].includes(k)) continue;
      ctx.addIssue(
        IMMUTABLE.has(k)
          ? { code: 'custom', path: [k], message: 'cannot change once the customer exists', params: { code: 'TALLY_ERR_IMMUTABLE_FIELD' } }
          : { code: 'custom', path: [k], message: 'is not a customer field', params: { code: 'TALLY_ERR_UNKNOWN_FIELD' } },
      );
    }
    if (m.days_until_due !== undefined && m.collection_method === 'charge_automatically') ctx.addIssue({ code: 'custom', path: ['days_until_due'], message: ONLY_WITH_SEND_INVOICE });
  });
export interface UpdateCustomerInput {
  name?: string | undefined;
  email?: string | null | undefined;
  country?: string | null | undefined;
  region?: string | null | undefined;
  address?: Address | null | undefined;
  locale?: string | null | undefined;
  timezone?: string | null | undefined;
  tax_exempt?: boolean | undefined;
  collection_method?: CollectionMethod | undefined;
  days_until_due?: number | undefined;
  purchase_order?: string | null | undefined;
  stripe_customer_id?: string | null | undefined;
  metadata?: Record<string, string> | undefined;
}

export interface CustomerRepository {
  /** Undefined when the id is taken (also by a deleted customer). */
  create(tenantId: string, c: CreateCustomerInput): Promise<Customer | undefined>;
  get(tenantId: string, id: string): Promise<Customer | undefined>;
  /** Every customer of the tenant (not deleted), by id, with its time zone (null: UTC). */
  zones(tenantId: string): Promise<Map<string, string | null>>;
  /** Ordered by id; `after` is the last id of the previous page. */
  list(tenantId: string, limit: number, after: string | undefined): Promise<{ data: Customer[]; has_more: boolean }>;
  update(tenantId: string, id: string, u: UpdateCustomerInput): Promise<Customer | undefined>;
  /** false when there is no such customer; throws when a subscription of theirs is still live. */
  remove(tenantId: string, id: string): Promise<boolean>;
}

/** A customers row: the API shape with timestamps as Dates. */
type Row = Omit<Customer, 'created_at' | 'updated_at'> & { created_at: Date; updated_at: Date };

const COLUMNS = 'id, name, email, currency, country, region, address, locale, timezone, tax_exempt, collection_method, days_until_due, purchase_order, stripe_customer_id, metadata, created_at, updated_at';

function toCustomer(r: Row): Customer {
  return { ...r, created_at: r.created_at.toISOString(), updated_at: r.updated_at.toISOString() };
}

/**
 * A Stripe customer is one Tally customer's: another's (of any tenant: every tenant may share
 * the Stripe account) would let one customer's invoices, cards and billing portal reach
 * another's. Refused with a 409 naming the field.
 */
async function checkStripeCustomerFree(tx: Queryable, tenantId: string, id: string, stripeCustomerId: string | null | undefined): Promise<void> {
  if (stripeCustomerId == null) return;
  // Held until the transaction that writes the id commits: two customers given the same Stripe
  // customer at once are checked one after the other, and the second sees the first.
  await tx.query("SELECT pg_advisory_xact_lock(hashtextextended('stripe_customer:' || $1, 0))", [stripeCustomerId]);
  const { rows } = await tx.query('SELECT 1 FROM customers WHERE stripe_customer_id = $1 AND NOT (tenant_id = $2 AND id = $3) LIMIT 1', [stripeCustomerId, tenantId, id]);
  if (rows.length > 0) throw new TallyError('TALLY_ERR_ALREADY_EXISTS', `Stripe customer ${stripeCustomerId} belongs to another customer`, { field: 'stripe_customer_id' });
}

export function pgCustomerRepository(pg: PostgresStore): CustomerRepository {
  return {
    create: (tenantId, c) =>
      pg.transaction(async (tx) => {
        await checkStripeCustomerFree(tx, tenantId, c.id, c.stripe_customer_id);
        const { rows } = await tx.query<Row>(
          `INSERT INTO customers (tenant_id, id, name, email, currency, country, tax_exempt, stripe_customer_id, metadata, region, collection_method, days_until_due, purchase_order, address, locale, timezone)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT (tenant_id, id) DO NOTHING RETURNING ${COLUMNS}`,
          [
            tenantId, c.id, c.name, c.email ?? null, c.currency, c.country ?? null, c.tax_exempt ?? false, c.stripe_customer_id ?? null, JSON.stringify(c.metadata ?? {}), c.region ?? null,
            c.collection_method ?? 'charge_automatically',
            c.collection_method === 'send_invoice' ? (c.days_until_due ?? DEFAULT_DAYS_UNTIL_DUE) : null,
            c.purchase_order ?? null,
            c.address === undefined ? null : JSON.stringify(c.address),
            c.locale ?? null,
            c.timezone ?? null,
          ],
        );
        return rows[0] === undefined ? undefined : toCustomer(rows[0]);
      }),
    async get(tenantId, id) {
      const { rows } = await pg.query<Row>(`SELECT ${COLUMNS} FROM customers WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL`, [tenantId, id]);
      return rows[0] === undefined ? undefined : toCustomer(rows[0]);
    },
    async zones(tenantId) {
      const { rows } = await pg.query<{ id: string; timezone: string | null }>('SELECT id, timezone FROM customers WHERE tenant_id = $1 AND deleted_at IS NULL', [tenantId]);
      return new Map(rows.map((r) => [r.id, r.timezone]));
    },
    async list(tenantId, limit, after) {
      const { rows } = await pg.query<Row>(
        `SELECT ${COLUMNS} FROM customers WHERE tenant_id = $1 AND deleted_at IS NULL AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3`,
        [tenantId, after ?? null, limit + 1],
      );
      return { data: rows.slice(0, limit).map(toCustomer), has_more: rows.length > limit };
    },
    async update(tenantId, id, u) {
      const set = (v: unknown) => v !== undefined;
      if (u.days_until_due !== undefined && u.collection_method === undefined) {
        const now = await pg.query<{ collection_method: CollectionMethod }>('SELECT collection_method FROM customers WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL', [tenantId, id]);
        if (now.rows[0]?.collection_method === 'charge_automatically') throw new TallyError('TALLY_ERR_INVALID_VALUE', `days_until_due ${ONLY_WITH_SEND_INVOICE}`, { field: 'days_until_due' });
      }
      return pg.transaction(async (tx) => {
        await checkStripeCustomerFree(tx, tenantId, id, u.stripe_customer_id);
        // The metadata limits hold for what the customer ends up with: merged here, under the
        // row lock, so that two PATCHes cannot each pass alone and break them together.
        let metadata: Record<string, string> | undefined;
        if (u.metadata !== undefined) {
          const now = await tx.query<{ metadata: Record<string, string> }>('SELECT metadata FROM customers WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE', [tenantId, id]);
          if (now.rows[0] === undefined) return undefined;
          metadata = mergeMetadata(now.rows[0].metadata, u.metadata);
        }
        const { rows } = await tx.query<Row>(
          `UPDATE customers SET
             name = CASE WHEN $3 THEN $4 ELSE name END,
             email = CASE WHEN $5 THEN $6 ELSE email END,
             country = CASE WHEN $7 THEN $8 ELSE country END,
             tax_exempt = CASE WHEN $9 THEN $10 ELSE tax_exempt END,
             stripe_customer_id = CASE WHEN $11 THEN $12 ELSE stripe_customer_id END,
             region = CASE WHEN $15 THEN $16 ELSE region END,
             -- Terms: days belong to send_invoice only; switching to it without days gives Net 30.
             collection_method = COALESCE($17, collection_method),
             days_until_due = CASE WHEN COALESCE($17, collection_method) = 'charge_automatically' THEN NULL
                                   ELSE COALESCE($18, days_until_due, ${DEFAULT_DAYS_UNTIL_DUE}) END,
             purchase_order = CASE WHEN $19 THEN $20 ELSE purchase_order END,
             address = CASE WHEN $21 THEN $22::jsonb ELSE address END,
             locale = CASE WHEN $23 THEN $24 ELSE locale END,
             timezone = CASE WHEN $25 THEN $26 ELSE timezone END,
             metadata = CASE WHEN $13 THEN $14::jsonb ELSE metadata END,
             updated_at = now()
           WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING ${COLUMNS}`,
          [
            tenantId, id,
            set(u.name), u.name ?? null,
            set(u.email), u.email ?? null,
            set(u.country), u.country ?? null,
            set(u.tax_exempt), u.tax_exempt ?? false,
            set(u.stripe_customer_id), u.stripe_customer_id ?? null,
            set(metadata), JSON.stringify(metadata ?? {}),
            set(u.region), u.region ?? null,
            u.collection_method ?? null, u.days_until_due ?? null,
            set(u.purchase_order), u.purchase_order ?? null,
            set(u.address), u.address == null ? null : JSON.stringify(u.address),
            set(u.locale), u.locale ?? null,
            set(u.timezone), u.timezone ?? null,
          ],
        );
        return rows[0] === undefined ? undefined : toCustomer(rows[0]);
      });
    },
    remove: (tenantId, id) =>
      pg.transaction(async (tx) => {
        const found = await tx.query('SELECT 1 FROM customers WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE', [tenantId, id]);
        if (found.rows.length === 0) return false;
        const live = await tx.query<{ id: string }>(
          'SELECT id FROM subscriptions WHERE tenant_id = $1 AND customer_id = $2 AND (canceled_at IS NULL OR canceled_at > now()) LIMIT 1',
          [tenantId, id],
        );
        if (live.rows[0] !== undefined) {
          throw new TallyError('TALLY_ERR_INVALID_TRANSITION', `customer ${JSON.stringify(id)} has a live subscription (${live.rows[0].id}); cancel it first`, { field: 'id' });
        }
        await tx.query('UPDATE customers SET deleted_at = now() WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
        return true;
      }),
  };
}
