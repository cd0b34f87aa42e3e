-- An invoice voided gives back the credit it used: a `release` entry, against each grant the
-- invoice consumed, of what it took from it (the only entry that adds to a grant). A void
-- invoice Stripe collected after all takes it back with a further `consume`.
ALTER TABLE credit_entries DROP CONSTRAINT IF EXISTS credit_entries_kind_check,
  ADD CONSTRAINT credit_entries_kind_check CHECK (kind IN ('consume', 'expire', 'release'));
ALTER TABLE credit_entries DROP CONSTRAINT IF EXISTS credit_entries_amount_check,
  ADD CONSTRAINT credit_entries_amount_check CHECK (CASE WHEN kind = 'release' THEN amount > 0 ELSE amount < 0 END);
CREATE INDEX IF NOT EXISTS credit_entries_invoice_idx ON credit_entries (tenant_id, invoice_id) WHERE invoice_id IS NOT NULL;
