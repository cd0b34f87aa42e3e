import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../core/ids.js';
import { loadMigrations, migrateClickHouse, migratePostgres, migrationsDir } from '../../core/migrate.js';
import type { ClickHouseStore } from '../../core/clickhouse.js';
import { pgMeterRepository } from '../../metering/meters.js';
import { storesAggregator } from '../support/aggregator.js';
import { openTestStores, type TestStores } from '../support/stores.js';

/**
 * The record of later copies (ClickHouse migration 0012), which every recompute reads to leave
 * them out. A store upgraded with a history of copies has none recorded: its first run records
 * the whole history (Postgres migration 0037 marks it recorded through the epoch), so that an
 * old hour recomputed afterwards still counts each event once. And a recompute reads only rows
 * made visible by its run's upper bound, through which the record was taken.
 */
let stores: TestStores;
beforeEach(async () => {
  stores = await openTestStores();
});
afterEach(async () => {
  await stores.cleanup();
});

const at = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

/** Raw rows of a tenant's `calls` meter, all at one minute past `hour`: [id, value, accepted, visible (default: accepted)]. */
function insertCalls(tenant: string, hour: number, rows: [id: string, value: string, accepted: number, visible?: number][]) {
  return stores.clickhouse.client.insert({
    table: stores.clickhouse.table('raw_events_v1'),
    columns: ['tenant_id', 'id', 'customer', 'meter', 'value', 'timestamp', 'properties', 'ingested_at', 'visible_at'],
    values: rows.map(([id, value, accepted, visible]) => ({
      tenant_id: tenant, id, customer: 'c1', meter: 'calls', value, timestamp: at(hour + 60_000), properties: '{}', ingested_at: at(accepted), visible_at: at(visible ?? accepted),
    })),
    format: 'JSONEachRow',
  });
}

/** A migrated store's tenant with a sum meter `calls`. */
async function tenantWithCalls(name: string) {
  await migratePostgres(stores.postgres, loadMigrations(migrationsDir('postgres')));
  await migrateClickHouse(stores.clickhouse, loadMigrations(migrationsDir('clickhouse')));
  const tenant = newId('ten');
  await stores.postgres.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [tenant, name]);
  const meters = pgMeterRepository(stores.postgres);
  await meters.create(tenant, { key: 'calls', name: 'Calls', aggregation: 'sum' });
  return { tenant, meters };
}

/** The tenant's rolled-up total. */
async function total(tenant: string): Promise<string | undefined> {
  const rs = await stores.clickhouse.client.query({
    query: `SELECT toString(sum(sum_value)) AS total FROM ${stores.clickhouse.table('usage_hourly_v1')} FINAL WHERE tenant_id = {t:String}`,
    query_params: { t: tenant },
    format: 'JSONEachRow',
  });
  return (await rs.json<{ total: string }>())[0]?.total;
}

describe('upgrading to the record of later copies', () => {
  it('records the copies of the history on the first run, so an old hour recomputed later counts each event once', async () => {
    const ch = stores.clickhouse;
    const pgMigrations = loadMigrations(migrationsDir('postgres'));
    const chMigrations = loadMigrations(migrationsDir('clickhouse'));
    await migratePostgres(stores.postgres, pgMigrations.filter((m) => m.version < 37));
    await migrateClickHouse(ch, chMigrations.filter((m) => m.version < 12));

    const tenant = newId('ten');
    await stores.postgres.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [tenant, 'upgrade']);
    const meters = pgMeterRepository(stores.postgres);
    await meters.create(tenant, { key: 'calls', name: 'Calls', aggregation: 'sum' });
    const h = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 5 * 3_600_000;
    const insert = (rows: [id: string, value: string, accepted: number][]) => insertCalls(tenant, h, rows);
    // The history: an event, a copy of it with other content accepted a second later, and a
    // retried send of another (same content, accepted later); aggregated by an earlier version,
    // whose watermark stands after them.
    await insert([
      ['e1', '5', h + 60_000],
      ['e1', '105', h + 61_000],
      ['e2', '7', h + 62_000],
      ['e2', '7', h + 63_000],
    ]);
    await meters.markBackfilled(tenant, 'calls', new Date(h + 120_000));
    await stores.postgres.query("UPDATE aggregator_state SET watermark = now() - interval '1 minute' WHERE name = 'hourly'");

    await migratePostgres(stores.postgres, pgMigrations);
    await migrateClickHouse(ch, chMigrations);
    // A new event in the old hour: its recompute reads the whole hour again.
    await insert([['e3', '1', Date.now()]]);
    // Recording the whole history is reported as a step of progress (a bar on the CLI).
    const steps: string[] = [];
    const run = await storesAggregator(stores, meters).runOnce({ start: (total, label) => steps.push(`${label}: ${total}`), tick: () => undefined, stop: () => undefined });
    expect(run.hoursRecomputed).toBe(1);
    expect(steps).toEqual(['record later copies (whole history): 1']);

    const rs = await ch.client.query({
      query: `SELECT toString(sum(sum_value)) AS total, sum(events) AS events FROM ${ch.table('usage_hourly_v1')} FINAL WHERE tenant_id = {t:String}`,
      query_params: { t: tenant },
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([{ total: '13', events: '3' }]);
    const recorded = await ch.client.query({ query: `SELECT count() AS n FROM ${ch.table('later_copy_keys_v1')} FINAL WHERE tenant_id = {t:String}`, query_params: { t: tenant }, format: 'JSONEachRow' });
    expect(await recorded.json()).toEqual([{ n: '2' }]);
    const { rows } = await stores.postgres.query<{ watermark: Date }>("SELECT watermark FROM aggregator_state WHERE name = 'later_copies'");
    expect(rows[0]?.watermark.getTime()).toBe(run.watermark.getTime());
  });

  it('leaves out of a recompute the rows made visible after its run began, a later copy among them', async () => {
    const { tenant, meters } = await tenantWithCalls('race');
    await storesAggregator(stores, meters).runOnce(); // backfills the (empty) meter

    const now = Date.now();
    const h = Math.floor(now / 3_600_000) * 3_600_000 - 3_600_000;
    // e1 and e2 visible before the run's upper bound (now - 30 s); a later copy of e1, made
    // visible after it, as a shipper inserting while the run works would.
    await insertCalls(tenant, h, [
      ['e1', '5', now - 50_000, now - 45_000],
      ['e2', '7', now - 40_000, now - 35_000],
      ['e1', '105', now - 20_000, now - 1_000],
    ]);
    const run = await storesAggregator(stores, meters, { clock: () => now - 30_000 }).runOnce();
    expect(run.hoursRecomputed).toBe(1);
    expect(await total(tenant)).toBe('12');
    // The next run records the copy and leaves it out.
    await storesAggregator(stores, meters).runOnce();
    expect(await total(tenant)).toBe('12');
  });

  it('records and recomputes the window again when a row of it commits while the run works', async () => {
    const ch = stores.clickhouse;
    const { tenant, meters } = await tenantWithCalls('commit');
    const h = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
    const insert = (rows: [id: string, value: string, accepted: number, visible: number][]) => insertCalls(tenant, h, rows);
    // Right after the run has recorded its window, a later copy of e1 commits, its insert stamped
    // before the run's upper bound (a slow insert): the run's recompute reads it.
    const late = { armed: false, visible: 0 };
    const client = new Proxy(ch.client, {
      get(target, prop, receiver) {
        if (prop !== 'command') return Reflect.get(target, prop, receiver) as unknown;
        return async (params: { query: string; query_params?: Record<string, unknown> }) => {
          const done = await target.command(params);
          if (late.armed && params.query.includes(`INSERT INTO ${ch.table('later_copy_keys_v1')}`)) {
            late.armed = false;
            await insert([['e1', '105', late.visible - 1_000, late.visible]]);
          }
          return done;
        };
      },
    });
    const racing: ClickHouseStore = { ...ch, client, table: (n: string) => ch.table(n) };
    const aggregator = storesAggregator({ ...stores, clickhouse: racing }, meters);
    await aggregator.runOnce();
    const now = Date.now();
    await insert([['e1', '5', now - 8_000, now - 8_000]]);
    Object.assign(late, { armed: true, visible: now - 5_000 });
    const run = await aggregator.runOnce();
    expect(late.armed).toBe(false);
    expect(run.watermark.getTime()).toBeGreaterThanOrEqual(now);
    expect(await total(tenant)).toBe('5');
  });

  it("does not take one tenant's only copy of an event for another tenant's later copy of the same event", async () => {
    const ch = stores.clickhouse;
    const { tenant: x, meters } = await tenantWithCalls('x');
    const y = newId('ten');
    await stores.postgres.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [y, 'y']);
    await meters.create(y, { key: 'calls', name: 'Calls', aggregation: 'sum' });
    const aggregator = storesAggregator(stores, meters);
    await aggregator.runOnce();
    // The same event sent to both tenants, taken in the same microsecond (so with the same copy
    // key); Y also took an earlier copy of it, so Y's is a later copy and X's its only one.
    const m = Date.now() - 5_000;
    const h = Math.floor(m / 3_600_000) * 3_600_000 - 3_600_000;
    await insertCalls(y, h, [
      ['42', '9', m - 1_000, m],
      ['42', '5', m, m],
    ]);
    await insertCalls(x, h, [['42', '5', m, m]]);
    await aggregator.runOnce();
    const rs = await ch.client.query({
      query: `SELECT tenant_id = {x:String} AS is_x, toString(sum(sum_value)) AS total FROM ${ch.table('usage_hourly_v1')} FINAL WHERE tenant_id IN ({x:String}, {y:String}) GROUP BY is_x ORDER BY is_x`,
      query_params: { x, y },
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([{ is_x: 0, total: '9' }, { is_x: 1, total: '5' }]);
  });
});
