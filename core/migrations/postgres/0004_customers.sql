-- Customers: the tenant's own id (the `customer` of its events), billing currency and details.
-- Deleting keeps the row (invoices and usage refer to it) and frees nothing: the id stays taken.
CREATE TABLE IF NOT EXISTS customers (
  tenant_id           text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id                  text NOT NULL,
  name                text NOT NULL,
  email               text,
  currency            char(3) NOT NULL,
  country             char(2),
  tax_exempt          boolean NOT NULL DEFAULT false,
  stripe_customer_id  text,
  metadata            jsonb NOT NULL DEFAULT '{}',
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  deleted_at          timestamptz,
  PRIMARY KEY (tenant_id, id)
);

CREATE INDEX IF NOT EXISTS customers_created_idx ON customers (tenant_id, created_at, id) WHERE deleted_at IS NULL;
