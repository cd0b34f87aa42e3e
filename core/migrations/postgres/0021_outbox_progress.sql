-- How far a Stripe outbox row has got, and how many attempts in a row got no further. The
-- backoff before the next attempt, and giving up, follow `stalled_attempts`, not `attempts`: an
-- invoice of many items that meets a few transient errors gets further with every attempt and
-- is retried soon. `steps_done` is the furthest step any attempt completed (for an invoice: its
-- Stripe customer, the draft, each item, finalization).
ALTER TABLE stripe_outbox ADD COLUMN IF NOT EXISTS stalled_attempts integer NOT NULL DEFAULT 0;

ALTER TABLE stripe_outbox ADD COLUMN IF NOT EXISTS steps_done integer NOT NULL DEFAULT 0;
