-- The Stripe outbox: every intended Stripe write is a row, inserted in the same transaction as
-- the change that calls for it (an invoice is closed, a customer needs a Stripe customer), so
-- an intent is never lost and never made twice. Workers claim due rows with
-- FOR UPDATE SKIP LOCKED and a lease, so several `tally sync` processes never work on the same
-- row at once; each Stripe request carries an idempotency key built from Tally's own ids.
CREATE TABLE IF NOT EXISTS stripe_outbox (
  id               bigserial PRIMARY KEY,
  tenant_id        text NOT NULL,
  kind             text NOT NULL CHECK (kind IN ('invoice', 'meter_usage')),
  ref              text NOT NULL,
  state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  locked_by        text,
  locked_until     timestamptz,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  done_at          timestamptz,
  UNIQUE (tenant_id, kind, ref)
);

CREATE INDEX IF NOT EXISTS stripe_outbox_due_idx ON stripe_outbox (next_attempt_at) WHERE state = 'pending';

-- Stripe webhook events already handled (each event id once), with what they did.
CREATE TABLE IF NOT EXISTS stripe_events (
  id           text PRIMARY KEY,
  type         text NOT NULL,
  created      timestamptz NOT NULL,
  outcome      text NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now()
);

-- Invoice payment state from Stripe: when it was last changed by an event (out-of-order
-- events older than that change nothing) and since when it is unpaid (dunning).
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS stripe_status_at timestamptz;
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS payment_failed_at timestamptz;
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS synced_at timestamptz;

-- Dunning: since when a subscription has had an unpaid, failed invoice. `suspended` is derived
-- from it at read time (after TALLY_DUNNING_SUSPEND_DAYS), so no job has to flip it.
ALTER TABLE subscriptions ADD COLUMN IF NOT EXISTS past_due_since timestamptz;
-- When Stripe last changed the subscription (out-of-order events older than that change nothing).
ALTER TABLE subscriptions ADD COLUMN IF NOT EXISTS stripe_status_at timestamptz;
