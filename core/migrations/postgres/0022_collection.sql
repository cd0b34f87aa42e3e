-- How each customer pays: Stripe charges their default payment method when an invoice is
-- finalized (`charge_automatically`), or emails the invoice to be paid within `days_until_due`
-- days (`send_invoice`, net terms). An invoice keeps the terms its customer had when it was
-- closed, so a later change of terms does not change what was issued.
ALTER TABLE customers ADD COLUMN IF NOT EXISTS collection_method text NOT NULL DEFAULT 'charge_automatically';
ALTER TABLE customers ADD COLUMN IF NOT EXISTS days_until_due integer;
ALTER TABLE customers DROP CONSTRAINT IF EXISTS customers_collection_check;
ALTER TABLE IF EXISTS customers ADD CONSTRAINT customers_collection_check CHECK (
  (collection_method = 'charge_automatically' AND days_until_due IS NULL)
  OR (collection_method = 'send_invoice' AND days_until_due BETWEEN 0 AND 365)
);

ALTER TABLE invoices ADD COLUMN IF NOT EXISTS collection_method text NOT NULL DEFAULT 'charge_automatically';
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS days_until_due integer;
-- Set when Stripe finalizes the invoice (send_invoice: finalization plus the net terms).
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS due_at timestamptz;
-- When Stripe reported the invoice overdue (send_invoice, unpaid past its due date).
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS overdue_at timestamptz;
-- When Stripe last reported that a payment needs the customer to authenticate it.
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS action_required_at timestamptz;
-- When it was paid (Stripe's invoice.paid, or paid when closed with nothing due).
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS paid_at timestamptz;
