-- Links to an invoice's hosted page (`/i/<token>`): unguessable, expiring and revocable, made
-- by the tenant (or for an email) and opened by the customer without a key. The token is 32
-- random bytes shown once in the link's URL; only its SHA-256 is kept, so the table alone
-- opens no invoice.
CREATE TABLE IF NOT EXISTS invoice_links (
  tenant_id   text NOT NULL,
  id          text NOT NULL,
  invoice_id  text NOT NULL,
  token_hash  bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL CHECK (expires_at > created_at),
  revoked_at  timestamptz,
  actor       text NOT NULL,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS invoice_links_invoice_idx ON invoice_links (tenant_id, invoice_id, created_at);

-- Stripe's own page for paying the invoice (its `hosted_invoice_url`), set once Stripe has
-- finalized it; the hosted page links to it while the invoice is open.
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS stripe_hosted_url text;
