-- What an invoice document shows beyond the API's first lines: how each usage line was priced
-- (unit price, or each tier's units, price and amount) and each tax line's rate, kept with the
-- line as it was billed, so a document made later shows what was charged even after the plan
-- moves on. Lines written before this migration have none, and their documents show the line
-- alone.
ALTER TABLE invoice_lines ADD COLUMN IF NOT EXISTS detail jsonb;

-- The customer's billing address and the locale their documents are written in (BCP 47, such
-- as de-DE): amounts and dates are formatted for it.
ALTER TABLE customers ADD COLUMN IF NOT EXISTS address jsonb;
ALTER TABLE customers ADD COLUMN IF NOT EXISTS locale text;

-- The tenant's logo, printed at the top of its invoice documents (PNG or JPEG).
ALTER TABLE billing_profiles ADD COLUMN IF NOT EXISTS logo bytea;
ALTER TABLE billing_profiles ADD COLUMN IF NOT EXISTS logo_type text;
