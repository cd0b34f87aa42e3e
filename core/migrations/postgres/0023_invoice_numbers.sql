-- The tenant as the issuer of its invoices: legal name, address, tax id, contact and footer,
-- and the prefix of its invoice numbers. `next_invoice_number` is the counter of a gapless
-- sequence: numbers are taken from it in the transaction that issues the invoices, so a number
-- is used exactly when its invoice exists. The prefix is unique across tenants because every
-- tenant's invoices may go to the same Stripe account, whose invoice numbers must be unique.
CREATE TABLE IF NOT EXISTS billing_profiles (
  tenant_id            text PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  legal_name           text,
  address              jsonb,
  tax_id               text,
  email                text,
  footer               text,
  invoice_prefix       text NOT NULL UNIQUE CHECK (invoice_prefix ~ '^[A-Z0-9]{1,12}$'),
  next_invoice_number  bigint NOT NULL DEFAULT 1 CHECK (next_invoice_number >= 1),
  updated_at           timestamptz NOT NULL DEFAULT now()
);

-- The legal invoice number (prefix-sequence), and what the invoice was issued with: the
-- issuer's details as they were then, and the customer's purchase-order reference.
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS number text;
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS issuer jsonb;
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS purchase_order text;
CREATE UNIQUE INDEX IF NOT EXISTS invoices_number_idx ON invoices (tenant_id, number) WHERE number IS NOT NULL;

-- A customer's purchase-order reference, printed on each invoice closed while it is set.
ALTER TABLE customers ADD COLUMN IF NOT EXISTS purchase_order text;
