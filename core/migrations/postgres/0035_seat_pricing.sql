-- Tiered seat prices of a plan version (rating/seats.ts): {model: graduated|volume, tiers}.
-- NULL: the base fee is base_fee per seat, as before.
ALTER TABLE plans ADD COLUMN IF NOT EXISTS seat_pricing jsonb;
