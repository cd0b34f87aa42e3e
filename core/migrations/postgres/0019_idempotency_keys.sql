-- Idempotency keys of the HTTP API's own writes (api/idempotency.ts). A row is claimed by the
-- first request carrying a key (insert-if-absent on the primary key, so two concurrent requests
-- can never both run), held under a lease its owner renews while the handler runs (a crashed
-- node's claim can be taken over once the lease lapses), and completed with the answer to
-- replay. `scope` is the tenant id, or ':admin' for the admin key. Rows are deleted once older
-- than the retention (24 hours) by the claims themselves, in bounded batches found by created_at.
CREATE TABLE IF NOT EXISTS idempotency_keys (
  scope          text NOT NULL,
  key            text NOT NULL,
  -- sha256 of method, route, path parameters, query and body: a reuse must be the same request.
  request_hash   text NOT NULL,
  owner          text NOT NULL,
  locked_until   timestamptz NOT NULL,
  -- The saved answer; NULL while the first request is still running.
  status         integer,
  content_type   text,
  headers        jsonb,
  body           bytea,
  created_at     timestamptz NOT NULL DEFAULT now(),
  completed_at   timestamptz,
  PRIMARY KEY (scope, key)
);

CREATE INDEX IF NOT EXISTS idempotency_keys_created_idx ON idempotency_keys (created_at);
