-- What finance did to an invoice, by whom: void, marked paid out of band, marked
-- uncollectible. One row per change; a repeat of an action that changes nothing adds none.
CREATE TABLE IF NOT EXISTS invoice_audit (
  seq         bigserial PRIMARY KEY,
  tenant_id   text NOT NULL,
  invoice_id  text NOT NULL,
  at          timestamptz NOT NULL DEFAULT now(),
  actor       text NOT NULL,
  action      text NOT NULL,
  details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS invoice_audit_invoice_idx ON invoice_audit (tenant_id, invoice_id, seq);

-- How an invoice paid outside Stripe was paid (wire, cheque, ...) and the bank's reference;
-- why one was voided or written off.
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS paid_out_of_band jsonb;
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS status_reason text;
