-- Seats (licensed quantities): each entry of a subscription's plan history carries how many
-- of the plan the subscription has; the base fee is charged per seat. A change of quantity is
-- a history entry like a change of plan, with the same proration (see rating/base-fee.ts).
ALTER TABLE subscription_plans ADD COLUMN IF NOT EXISTS quantity integer NOT NULL DEFAULT 1;
ALTER TABLE subscription_plans DROP CONSTRAINT IF EXISTS subscription_plans_quantity_check;
ALTER TABLE IF EXISTS subscription_plans ADD CONSTRAINT subscription_plans_quantity_check CHECK (quantity >= 1 AND quantity <= 1000000);
