-- Invoices: one per subscription and billing period, made by period close. The unique
-- (subscription, period) key is what makes closing twice change nothing. Amounts are exact
-- decimals: line amounts at 6 places, totals at the currency's minor unit.
CREATE TABLE IF NOT EXISTS invoices (
  tenant_id          text NOT NULL,
  id                 text NOT NULL,
  subscription_id    text NOT NULL,
  customer_id        text NOT NULL,
  currency           char(3) NOT NULL,
  period_start       timestamptz NOT NULL,
  period_end         timestamptz NOT NULL,
  status             text NOT NULL CHECK (status IN ('draft', 'open', 'paid', 'void', 'uncollectible')),
  subtotal           numeric(38, 6) NOT NULL,
  discount           numeric(38, 6) NOT NULL DEFAULT 0,
  tax                numeric(38, 6) NOT NULL DEFAULT 0,
  total              numeric(38, 6) NOT NULL,
  stripe_invoice_id  text,
  closed_as_of       timestamptz NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, subscription_id, period_start),
  FOREIGN KEY (tenant_id, subscription_id) REFERENCES subscriptions (tenant_id, id)
);

CREATE INDEX IF NOT EXISTS invoices_customer_idx ON invoices (tenant_id, customer_id, period_start);

CREATE TABLE IF NOT EXISTS invoice_lines (
  tenant_id             text NOT NULL,
  invoice_id            text NOT NULL,
  line_no               integer NOT NULL,
  type                  text NOT NULL CHECK (type IN ('base_fee', 'usage', 'minimum', 'proration', 'adjustment', 'discount', 'credit', 'tax')),
  meter                 text,
  quantity              numeric(38, 6),
  amount                numeric(38, 6) NOT NULL,
  description           text NOT NULL,
  plan_code             text,
  plan_version          integer,
  line_start            timestamptz,
  line_end              timestamptz,
  -- For adjustment lines: the earlier period whose usage changed after it was invoiced.
  adjusts_period_start  timestamptz,
  PRIMARY KEY (tenant_id, invoice_id, line_no),
  FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id) ON DELETE CASCADE
);

-- What each closed period's usage of a meter has been billed at so far (its invoice's usage
-- and minimum lines plus every later adjustment): late usage is billed as the difference.
CREATE TABLE IF NOT EXISTS billed_usage (
  tenant_id        text NOT NULL,
  subscription_id  text NOT NULL,
  period_start     timestamptz NOT NULL,
  meter            text NOT NULL,
  quantity         numeric(38, 6) NOT NULL,
  amount           numeric(38, 6) NOT NULL,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, subscription_id, period_start, meter)
);

-- The incremental rater's position: hourly usage rows written (by version) up to here are rated.
INSERT INTO aggregator_state (name) VALUES ('rater') ON CONFLICT (name) DO NOTHING;
