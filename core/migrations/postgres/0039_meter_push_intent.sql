-- A meter event on its way to Stripe: its revision and the quantity of the hour it brings
-- Stripe to, written before it is sent. A push cut short (a crash, a timeout, a 500 after
-- Stripe kept the event) leaves it here, and the next push sends exactly that event again (the
-- same identifier, idempotency key and value) before anything new: a later quantity never goes
-- out under a revision Stripe may already have.
ALTER TABLE stripe_meter_pushes ADD COLUMN IF NOT EXISTS sending_revision integer;
ALTER TABLE stripe_meter_pushes ADD COLUMN IF NOT EXISTS sending_quantity numeric(38, 6);
