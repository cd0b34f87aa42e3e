-- One-off charges (a setup fee, an add-on): added to a subscription and billed on its next
-- closed invoice as a `charge` line. `invoice_id` is set in the transaction that writes that
-- invoice, so a charge is billed exactly once.
CREATE TABLE IF NOT EXISTS one_off_charges (
  tenant_id        text NOT NULL,
  id               text NOT NULL,
  subscription_id  text NOT NULL,
  customer_id      text NOT NULL,
  currency         char(3) NOT NULL,
  amount           numeric(38, 6) NOT NULL CHECK (amount > 0),
  description      text NOT NULL,
  invoice_id       text,
  actor            text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, subscription_id) REFERENCES subscriptions (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS one_off_charges_pending_idx ON one_off_charges (tenant_id, subscription_id) WHERE invoice_id IS NULL;

ALTER TABLE invoice_lines DROP CONSTRAINT IF EXISTS invoice_lines_type_check;
ALTER TABLE IF EXISTS invoice_lines ADD CONSTRAINT invoice_lines_type_check
  CHECK (type IN ('base_fee', 'usage', 'minimum', 'proration', 'adjustment', 'charge', 'discount', 'credit', 'tax'));

-- Charges can also be invoiced at once, on an invoice of their own (`kind = 'one_off'`, its
-- period the instant it was issued). Only a period's invoice is unique per (subscription,
-- period start): what makes closing a period twice change nothing.
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'period' CHECK (kind IN ('period', 'one_off'));
ALTER TABLE invoices DROP CONSTRAINT IF EXISTS invoices_tenant_id_subscription_id_period_start_key;
CREATE UNIQUE INDEX IF NOT EXISTS invoices_period_idx ON invoices (tenant_id, subscription_id, period_start) WHERE kind = 'period';
