-- A tenant's Stripe writes and webhook deliveries still open or given up (GET /v1/pipeline, the
-- console's pipeline page): read through these instead of every row the tenant ever had, since
-- done and delivered rows are kept.
CREATE INDEX IF NOT EXISTS stripe_outbox_open_by_tenant_idx ON stripe_outbox (tenant_id) WHERE state IN ('pending', 'failed');
CREATE INDEX IF NOT EXISTS webhook_deliveries_open_by_tenant_idx ON webhook_deliveries (tenant_id) WHERE state IN ('pending', 'failed');
