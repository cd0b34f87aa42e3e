-- Credit notes against issued invoices: all or part of an invoice taken back, with a reason.
-- On an open invoice it lowers what is due (`reduce_due`); on a paid one the money goes back
-- as credit on the customer's balance (a credit grant the next close uses), as a refund
-- through Stripe, or outside Stripe (`out_of_band`). Amounts are at the currency's minor unit.
CREATE TABLE IF NOT EXISTS credit_notes (
  tenant_id              text NOT NULL,
  id                     text NOT NULL,
  invoice_id             text NOT NULL,
  customer_id            text NOT NULL,
  currency               char(3) NOT NULL,
  number                 text NOT NULL,
  amount                 numeric(38, 6) NOT NULL CHECK (amount > 0),
  settlement             text NOT NULL CHECK (settlement IN ('reduce_due', 'credit_balance', 'refund', 'out_of_band')),
  reason                 text NOT NULL CHECK (reason IN ('duplicate', 'fraudulent', 'order_change', 'product_unsatisfactory')),
  memo                   text,
  lines                  jsonb NOT NULL DEFAULT '[]',
  stripe_credit_note_id  text,
  actor                  text NOT NULL,
  created_at             timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, number),
  FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS credit_notes_invoice_idx ON credit_notes (tenant_id, invoice_id, created_at);

-- What the invoice's credit notes took back, in total.
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS credited numeric(38, 6) NOT NULL DEFAULT 0;

ALTER TABLE stripe_outbox DROP CONSTRAINT IF EXISTS stripe_outbox_kind_check;
ALTER TABLE IF EXISTS stripe_outbox ADD CONSTRAINT stripe_outbox_kind_check CHECK (kind IN ('invoice', 'meter_usage', 'credit_note'));

ALTER TABLE credit_grants DROP CONSTRAINT IF EXISTS credit_grants_source_check;
ALTER TABLE IF EXISTS credit_grants ADD CONSTRAINT credit_grants_source_check CHECK (source IN ('purchase', 'invoice_credit', 'allowance', 'credit_note'));
