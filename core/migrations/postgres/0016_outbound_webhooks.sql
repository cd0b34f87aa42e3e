-- Outbound webhooks to tenants. An endpoint is a URL with its signing secret and the event
-- types it takes ('*' for all). An event is written once, by the change that causes it and in
-- the same transaction (its dedup key makes a repeat a no-op), together with one delivery per
-- endpoint taking it. Deliveries are claimed like the Stripe outbox (FOR UPDATE SKIP LOCKED
-- under a lease), retried with backoff for over a day, and every attempt is logged.
CREATE TABLE IF NOT EXISTS webhook_endpoints (
  tenant_id    text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id           text NOT NULL,
  url          text NOT NULL,
  secret       text NOT NULL,
  events       text[] NOT NULL,
  description  text,
  disabled     boolean NOT NULL DEFAULT false,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE IF NOT EXISTS webhook_events (
  tenant_id   text NOT NULL,
  id          text NOT NULL,
  type        text NOT NULL,
  dedup_key   text NOT NULL,
  data        jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, dedup_key)
);

CREATE INDEX IF NOT EXISTS webhook_events_created_idx ON webhook_events (tenant_id, created_at, id);

CREATE TABLE IF NOT EXISTS webhook_deliveries (
  id               bigserial PRIMARY KEY,
  tenant_id        text NOT NULL,
  event_id         text NOT NULL,
  endpoint_id      text NOT NULL,
  state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  -- The attempt count at the last manual redelivery: the retry schedule starts again from it.
  schedule_from    integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  locked_by        text,
  locked_until     timestamptz,
  last_status      integer,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  UNIQUE (tenant_id, event_id, endpoint_id),
  FOREIGN KEY (tenant_id, event_id) REFERENCES webhook_events (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';

CREATE TABLE IF NOT EXISTS webhook_attempts (
  delivery_id  bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  attempt      integer NOT NULL,
  at           timestamptz NOT NULL DEFAULT now(),
  status       integer,
  error        text,
  duration_ms  integer NOT NULL,
  PRIMARY KEY (delivery_id, attempt)
);
