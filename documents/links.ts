import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { TallyError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { PostgresStore, Queryable } from '../core/postgres.js';

/**
 * Links to an invoice's hosted page: `<TALLY_PUBLIC_URL>/i/<token>`, where the token is 32
 * random bytes (base64url). Only the token's SHA-256 is stored, so the link is shown once, when
 * it is made; it works until it expires or is revoked. A link opens exactly one invoice of one
 * tenant, and nothing else.
 */
export interface LinkSettings {
  /** The base URL customers reach Tally at, without a trailing slash. */
  publicUrl: string;
  /** How long a link works when it is made without its own expiry. */
  days: number;
  /** Epoch milliseconds now (tests move it). */
  clock?: () => number;
}

/** A link as the tenant lists it: never its token. */
export interface InvoiceLink {
  id: string;
  invoice: string;
  status: 'active' | 'expired' | 'revoked';
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  actor: string;
}

/** A link just made: its URL, holding the token, is shown this once. */
export interface NewInvoiceLink {
  id: string;
  invoice: string;
  url: string;
  created_at: string;
  expires_at: string;
}

/** What a token opens: an invoice of a tenant, or nothing (never known, or expired or revoked). */
export type TokenLookup = { state: 'valid'; tenantId: string; invoiceId: string } | { state: 'gone' } | { state: 'unknown' };

export const MAX_LINK_DAYS = 365;
const DAY_MS = 86_400_000;
const TOKEN_BYTES = 32;
/** The text of a token: 32 bytes in base64url, without padding. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

interface LinkRow {
  id: string;
  invoice_id: string;
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  actor: string;
}

export class InvoiceLinks {
  private readonly clock: () => number;

  constructor(
    private readonly pg: PostgresStore,
    private readonly settings: LinkSettings,
  ) {
    this.clock = settings.clock ?? Date.now;
  }

  /** A new link to an issued invoice of the tenant; undefined when the tenant has no such invoice. */
  create(tenantId: string, invoiceId: string, o: { actor: string; expiresInDays?: number }): Promise<NewInvoiceLink | undefined> {
    return createLink(this.pg, tenantId, invoiceId, { ...this.settings, clock: this.clock }, o);
  }

  /** The invoice's links, oldest first; undefined when the tenant has no such invoice. */
  async list(tenantId: string, invoiceId: string): Promise<InvoiceLink[] | undefined> {
    if (!(await invoiceExists(this.pg, tenantId, invoiceId))) return undefined;
    const { rows } = await this.pg.query<LinkRow>(
      'SELECT id, invoice_id, created_at, expires_at, revoked_at, actor FROM invoice_links WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY created_at, id',
      [tenantId, invoiceId],
    );
    const now = this.clock();
    return rows.map((r) => linkView(r, now));
  }

  /**
   * Revokes one link of the invoice: it stops working at once. Revoking it again changes
   * nothing. Undefined when the tenant's invoice has no such link.
   */
  async revoke(tenantId: string, invoiceId: string, linkId: string): Promise<InvoiceLink | undefined> {
    const { rows } = await this.pg.query<LinkRow>(
      `UPDATE invoice_links SET revoked_at = coalesce(revoked_at, $4)
        WHERE tenant_id = $1 AND invoice_id = $2 AND id = $3
        RETURNING id, invoice_id, created_at, expires_at, revoked_at, actor`,
      [tenantId, invoiceId, linkId, new Date(this.clock())],
    );
    return rows[0] === undefined ? undefined : linkView(rows[0], this.clock());
  }

  /** The invoice a token opens now, or undefined (unknown, expired or revoked alike). */
  async resolve(token: string): Promise<{ tenantId: string; invoiceId: string } | undefined> {
    const found = await this.lookup(token);
    return found.state === 'valid' ? { tenantId: found.tenantId, invoiceId: found.invoiceId } : undefined;
  }

  /**
   * What a token opens now. Every token costs the same work, well-formed or not: one hash and
   * one lookup by hash, then the stored hash compared in constant time.
   */
  async lookup(token: string): Promise<TokenLookup> {
    // A path parameter is bounded by the request line; the hash of anything is 32 bytes.
    const hash = tokenHash(token);
    const { rows } = await this.pg.query<{ tenant_id: string; invoice_id: string; token_hash: Buffer; expires_at: Date; revoked_at: Date | null }>(
      'SELECT tenant_id, invoice_id, token_hash, expires_at, revoked_at FROM invoice_links WHERE token_hash = $1',
      [hash],
    );
    const row = rows[0];
    if (row === undefined || !TOKEN.test(token) || !timingSafeEqual(row.token_hash, hash)) return { state: 'unknown' };
    if (row.revoked_at !== null || row.expires_at.getTime() <= this.clock()) return { state: 'gone' };
    return { state: 'valid', tenantId: row.tenant_id, invoiceId: row.invoice_id };
  }
}

/**
 * A fresh link to the tenant's invoice, as its URL, made on `q` (a transaction or the pool):
 * what an email to the customer carries. Refused like `POST /v1/invoices/:id/links`: a
 * `TALLY_ERR_NOT_FOUND` for an invoice the tenant does not have, `TALLY_ERR_INVALID_TRANSITION`
 * for a draft.
 */
export async function hostedUrl(q: Queryable, tenantId: string, invoiceId: string, settings: LinkSettings, actor = 'system'): Promise<string> {
  const link = await createLink(q, tenantId, invoiceId, settings, { actor });
  if (link === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', `no invoice ${JSON.stringify(invoiceId)}`, { field: 'id' });
  return link.url;
}

async function createLink(q: Queryable, tenantId: string, invoiceId: string, settings: LinkSettings, o: { actor: string; expiresInDays?: number }): Promise<NewInvoiceLink | undefined> {
  const { rows } = await q.query<{ status: string; number: string | null }>('SELECT status, number FROM invoices WHERE tenant_id = $1 AND id = $2', [tenantId, invoiceId]);
  const invoice = rows[0];
  if (invoice === undefined) return undefined;
  // A draft under review (or one voided in review, which never got a number) is not the
  // customer's to see.
  if (invoice.status === 'draft' || invoice.number === null) {
    throw new TallyError('TALLY_ERR_INVALID_TRANSITION', `invoice ${invoiceId} is a draft: only an issued invoice has a hosted page`, { field: 'id' });
  }
  const days = o.expiresInDays ?? settings.days;
  const now = (settings.clock ?? Date.now)();
  const token = randomBytes(TOKEN_BYTES).toString('base64url');
  const id = newId('ilnk', now);
  const createdAt = new Date(now);
  const expiresAt = new Date(now + days * DAY_MS);
  await q.query('INSERT INTO invoice_links (tenant_id, id, invoice_id, token_hash, created_at, expires_at, actor) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
    tenantId,
    id,
    invoiceId,
    tokenHash(token),
    createdAt,
    expiresAt,
    o.actor,
  ]);
  return { id, invoice: invoiceId, url: `${settings.publicUrl}/i/${token}`, created_at: createdAt.toISOString(), expires_at: expiresAt.toISOString() };
}

async function invoiceExists(q: Queryable, tenantId: string, invoiceId: string): Promise<boolean> {
  const { rowCount } = await q.query('SELECT 1 FROM invoices WHERE tenant_id = $1 AND id = $2', [tenantId, invoiceId]);
  return (rowCount ?? 0) > 0;
}

function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function linkView(r: LinkRow, now: number): InvoiceLink {
  return {
    id: r.id,
    invoice: r.invoice_id,
    status: r.revoked_at !== null ? 'revoked' : r.expires_at.getTime() <= now ? 'expired' : 'active',
    created_at: r.created_at.toISOString(),
    expires_at: r.expires_at.toISOString(),
    revoked_at: r.revoked_at === null ? null : r.revoked_at.toISOString(),
    actor: r.actor,
  };
}

/** Stripe's page for paying the invoice (its `hosted_invoice_url`), once Stripe finalized it; only an http(s) URL. */
export async function stripeHostedUrl(q: Queryable, tenantId: string, invoiceId: string): Promise<string | null> {
  const { rows } = await q.query<{ url: string | null }>('SELECT stripe_hosted_url AS url FROM invoices WHERE tenant_id = $1 AND id = $2', [tenantId, invoiceId]);
  const url = rows[0]?.url ?? null;
  return url !== null && /^https?:\/\/[^\s"'<>]+$/.test(url) ? url : null;
}
