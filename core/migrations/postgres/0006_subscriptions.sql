-- Subscriptions. What changes over time is stored as facts with the instant they take effect,
-- so nothing needs a job to flip at period end: the plan in force is the history row with the
-- latest effective_from not after "now"; a cancellation is canceled_at (now or a period end);
-- the status is derived from these, the trial end, and the dunning state set by billing.
CREATE TABLE IF NOT EXISTS subscriptions (
  tenant_id      text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id             text NOT NULL,
  customer_id    text NOT NULL,
  interval       text NOT NULL CHECK (interval IN ('month', 'year')),
  start_date     timestamptz NOT NULL,
  trial_end      timestamptz,
  canceled_at    timestamptz,
  dunning        text CHECK (dunning IN ('past_due', 'suspended')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
);

CREATE INDEX IF NOT EXISTS subscriptions_customer_idx ON subscriptions (tenant_id, customer_id);

-- Which plan version is in force from when; `prorate` tells the rater how to treat a
-- change in the middle of a period.
CREATE TABLE IF NOT EXISTS subscription_plans (
  tenant_id        text NOT NULL,
  subscription_id  text NOT NULL,
  effective_from   timestamptz NOT NULL,
  plan_code        text NOT NULL,
  plan_version     integer NOT NULL,
  prorate          boolean NOT NULL DEFAULT true,
  PRIMARY KEY (tenant_id, subscription_id, effective_from),
  FOREIGN KEY (tenant_id, subscription_id) REFERENCES subscriptions (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, plan_code, plan_version) REFERENCES plans (tenant_id, code, version)
);

-- Every state change: who, what, when.
CREATE TABLE IF NOT EXISTS subscription_audit (
  seq              bigserial PRIMARY KEY,
  tenant_id        text NOT NULL,
  subscription_id  text NOT NULL,
  at               timestamptz NOT NULL DEFAULT now(),
  actor            text NOT NULL,
  action           text NOT NULL,
  details          jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX IF NOT EXISTS subscription_audit_sub_idx ON subscription_audit (tenant_id, subscription_id, seq);
