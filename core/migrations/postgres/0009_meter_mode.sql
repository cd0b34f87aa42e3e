-- How a plan's subscriptions are billed through Stripe: `invoice` (Tally's closed invoices
-- become Stripe invoices) or `meter` (Tally pushes hourly usage to Stripe Billing Meters and
-- Stripe prices and invoices it).
ALTER TABLE plans ADD COLUMN IF NOT EXISTS billing_mode text NOT NULL DEFAULT 'invoice' CHECK (billing_mode IN ('invoice', 'meter'));

-- The Stripe meter of each (tenant, meter) pushed to.
CREATE TABLE IF NOT EXISTS stripe_meters (
  tenant_id       text NOT NULL,
  meter           text NOT NULL,
  event_name      text NOT NULL,
  stripe_meter_id text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, meter)
);

-- What has been pushed to Stripe for each subscription, meter and hour: the quantity so far
-- and the revision of the last event (its identifier ends with it). A change is pushed as a
-- further event carrying the difference, with the next revision.
CREATE TABLE IF NOT EXISTS stripe_meter_pushes (
  tenant_id        text NOT NULL,
  subscription_id  text NOT NULL,
  meter            text NOT NULL,
  hour             timestamptz NOT NULL,
  pushed           numeric(38, 6) NOT NULL,
  revision         integer NOT NULL,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, subscription_id, meter, hour)
);
