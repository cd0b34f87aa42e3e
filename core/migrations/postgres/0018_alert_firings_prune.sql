-- Firings of ended periods are deleted by the rating loop (alerts/evaluate.ts pruneFirings),
-- found by when their period started.
CREATE INDEX IF NOT EXISTS alert_firings_period_start ON alert_firings (period_start);
