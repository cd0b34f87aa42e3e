import { Gauge, type Registry } from 'prom-client';
import { withTimeout } from '../core/clickhouse.js';
import type { PostgresStore } from '../core/postgres.js';
import { RetrySet, retryItemName } from '../core/retry-set.js';

/*
 * What the aggregator's runs leave in Postgres, read by every node without running one: the
 * watermark through which hourly usage is complete, the meters set aside and the instants
 * their events wait from, and through which instant the later copies are recorded; with the
 * gauges that report them.
 */

/**
 * `tally_aggregator_lag_seconds`, read from the stored watermark when Prometheus scrapes, so
 * every API node reports it and it keeps growing when no aggregator runs at all.
 */
export function aggregatorLagGauge(registry: Registry, pg: PostgresStore): Gauge {
  // The last watermark read: while Postgres cannot be reached the lag keeps growing from it,
  // and the scrape still answers (the store's own health shows on /readyz).
  let known: Date | undefined;
  return new Gauge({
    name: 'tally_aggregator_lag_seconds',
    help: 'Age of the aggregator watermark: events accepted since then are not in the hourly usage yet.',
    registers: [registry],
    async collect() {
      try {
        known = await withTimeout(readWatermark(pg), 2_000, 'reading the aggregator watermark');
      } catch {
        // Keep the last value read.
      }
      // With none read yet (Postgres unreachable since start), not a lag of 0 that looks healthy: NaN, unknown.
      this.set(known === undefined ? Number.NaN : (Date.now() - known.getTime()) / 1000);
    },
  });
}

/**
 * `tally_aggregator_meters_set_aside` and `tally_aggregator_set_aside_lag_seconds`, read from
 * the retry set when Prometheus scrapes (so every API node reports them, as the lag). The lag
 * follows the watermark, which moves on past a meter set aside: a meter that fails on every run
 * leaves it low while that meter's usage stays where it was.
 */
export function setAsideGauges(registry: Registry, pg: PostgresStore): void {
  // The last figures read: while Postgres cannot be reached they stay, and the scrape answers.
  let known: { meters: number; oldest: number | undefined } | undefined;
  let reading: Promise<void> | undefined;
  // One read serves both gauges of a scrape: the registry collects its metrics concurrently.
  const read = () =>
    (reading ??= withTimeout(new RetrySet(pg, 'aggregator').list(), 2_000, 'reading the meters set aside')
      .then((items) => {
        const meters = items.filter((i) => i.item !== RECORD_ITEM);
        known = { meters: meters.length, oldest: meters.reduce<number | undefined>((min, i) => (min === undefined || i.since < min ? i.since : min), undefined) };
      })
      .catch(() => undefined) // keep the last figures read
      .finally(() => (reading = undefined)));
  new Gauge({
    name: 'tally_aggregator_meters_set_aside',
    help: "Tenants' meters whose recompute failed while the watermark moved on; each run does them again until one succeeds.",
    registers: [registry],
    async collect() {
      await read();
      if (known !== undefined) this.set(known.meters);
    },
  });
  new Gauge({
    name: 'tally_aggregator_set_aside_lag_seconds',
    help: 'Age of the instant from which the longest set-aside meter\'s events wait (0 when none): how far behind its usage is.',
    registers: [registry],
    async collect() {
      await read();
      if (known !== undefined) this.set(known.oldest === undefined ? 0 : Math.max(0, (Date.now() - known.oldest) / 1000));
    },
  });
}

/** A tenant's meters the aggregator set aside, each with the instant from which its events wait. */
export async function metersSetAside(pg: PostgresStore, tenantId: string): Promise<{ meter: string; since: Date }[]> {
  const items = await new RetrySet(pg, 'aggregator').list();
  return items.filter((i) => i.tenantId === tenantId && i.item !== RECORD_ITEM).map((i) => ({ meter: i.item, since: new Date(i.since) }));
}

/**
 * The retry-set item of a tenant whose later copies a run could not record (no meter key is
 * empty); its meters are set aside with it.
 */
export const RECORD_ITEM = '';

/** Through which instant the later copies of the visible rows are recorded (the epoch: none yet). */
export async function readRecordedThrough(pg: PostgresStore): Promise<Date> {
  const { rows } = await pg.query<{ watermark: Date }>("SELECT watermark FROM aggregator_state WHERE name = 'later_copies'");
  return rows[0]?.watermark ?? new Date(0);
}

/** The stored watermark, read without taking the lease (for usage completeness). */
export async function readWatermark(pg: PostgresStore): Promise<Date> {
  const { rows } = await pg.query<{ watermark: Date }>("SELECT watermark FROM aggregator_state WHERE name = 'hourly'");
  return rows[0]?.watermark ?? new Date(0);
}

/**
 * The instant through which one meter's hourly usage is complete: the watermark, or, for a
 * meter the aggregator set aside (its recompute failed while the watermark moved on), the
 * instant from which its events still wait, when that is earlier. What reads rollups as final
 * (the usage API's `complete`, period close, the entitlement checks' live part) goes by this.
 */
export async function readMeterWatermark(pg: PostgresStore, tenantId: string, meterKey: string): Promise<Date> {
  const { rows } = await pg.query<{ w: Date | null }>(
    "SELECT least((SELECT watermark FROM aggregator_state WHERE name = 'hourly'), (SELECT watermark FROM aggregator_state WHERE name = $1)) AS w",
    [retryItemName('aggregator', tenantId, meterKey)],
  );
  return rows[0]?.w ?? new Date(0);
}
