-- Customer credits: a ledger. A grant adds credit to a customer (purchased credits never
-- expire; credit carried from an invoice whose charges were below zero is the same); every
-- use (consume, at period close) is an entry against one grant, so each grant's remaining
-- balance is its amount plus its entries, and the customer's balance is the sum over grants.
-- Nothing is updated in place: the ledger is its own audit trail.
CREATE TABLE IF NOT EXISTS credit_grants (
  tenant_id    text NOT NULL,
  id           text NOT NULL,
  customer_id  text NOT NULL,
  currency     char(3) NOT NULL,
  amount       numeric(38, 6) NOT NULL CHECK (amount > 0),
  source       text NOT NULL CHECK (source IN ('purchase', 'invoice_credit')),
  reason       text,
  invoice_id   text,
  actor        text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
);

CREATE INDEX IF NOT EXISTS credit_grants_customer_idx ON credit_grants (tenant_id, customer_id, created_at);

CREATE TABLE IF NOT EXISTS credit_entries (
  seq          bigserial PRIMARY KEY,
  tenant_id    text NOT NULL,
  grant_id     text NOT NULL,
  customer_id  text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('consume')),
  amount       numeric(38, 6) NOT NULL CHECK (amount < 0),
  invoice_id   text,
  at           timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, grant_id) REFERENCES credit_grants (tenant_id, id)
);

CREATE INDEX IF NOT EXISTS credit_entries_grant_idx ON credit_entries (tenant_id, grant_id);

ALTER TABLE invoices ADD COLUMN IF NOT EXISTS credit numeric(38, 6) NOT NULL DEFAULT 0;
