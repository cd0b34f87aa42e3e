-- The aggregator's watermark (raw events ingested up to here are in the hourly rollups) and
-- its lease: one run at a time across all processes; a crashed holder's lease expires.
CREATE TABLE IF NOT EXISTS aggregator_state (
  name         text PRIMARY KEY,
  watermark    timestamptz NOT NULL DEFAULT 'epoch',
  lease_owner  text,
  lease_until  timestamptz,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

INSERT INTO aggregator_state (name) VALUES ('hourly') ON CONFLICT (name) DO NOTHING;
