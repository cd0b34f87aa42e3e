import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../core/ids.js';
import { loadMigrations, migrateClickHouse, migratePostgres, migrationsDir } from '../../core/migrate.js';
import { pgMeterRepository } from '../../metering/meters.js';
import { storesAggregator } from '../support/aggregator.js';
import { openTestStores, type TestStores } from '../support/stores.js';

/**
 * Upgrading a store whose unique_count rollups hold uniqExact states (ClickHouse migrations up
 * to 0008): migration 0009 replaces the state column with the distinct values, and Postgres
 * migration 0020 marks unique_count meters for backfill, so the next aggregator run rebuilds
 * their hours from the raw events, and empties an hour the raw events no longer support.
 */
let stores: TestStores;
beforeEach(async () => {
  stores = await openTestStores();
});
afterEach(async () => {
  await stores.cleanup();
});

describe('upgrading unique_count rollups to distinct values', () => {
  it('rebuilds the meter from the raw events after the migrations', async () => {
    const pg = loadMigrations(migrationsDir('postgres'));
    const ch = loadMigrations(migrationsDir('clickhouse'));
    await migratePostgres(stores.postgres, pg.filter((m) => m.version < 20));
    await migrateClickHouse(stores.clickhouse, ch.filter((m) => m.version < 9));

    const tenant = newId('ten');
    await stores.postgres.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [tenant, 'upgrade']);
    const meters = pgMeterRepository(stores.postgres);
    await meters.create(tenant, { key: 'users', name: 'Users', aggregation: 'unique_count', value_property: 'user' });
    await meters.create(tenant, { key: 'calls', name: 'Calls', aggregation: 'sum' });
    await meters.markBackfilled(tenant, 'users', new Date());
    await meters.markBackfilled(tenant, 'calls', new Date());

    const raw = stores.clickhouse.table('raw_events_v1');
    const hourly = stores.clickhouse.table('usage_hourly_v1');
    const h = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 5 * 3_600_000;
    const at = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
    const events: [string, string, number][] = [
      ['e1', 'alice', h + 60_000],
      ['e2', 'bob', h + 120_000],
      ['e3', 'alice', h + 180_000],
      ['e4', 'carol', h + 3_600_000 + 60_000],
    ];
    await stores.clickhouse.client.insert({
      table: raw,
      values: events.map(([id, user, ts]) => ({ tenant_id: tenant, id, customer: 'c1', meter: 'users', value: null, timestamp: at(ts), properties: JSON.stringify({ user }), ingested_at: at(ts) })),
      format: 'JSONEachRow',
    });
    // Rollups as the previous version wrote them: states, one hour with nothing behind it any more.
    await stores.clickhouse.client.command({
      query: `INSERT INTO ${hourly} (tenant_id, meter, customer, groups, hour, events, uniq_state, version)
              SELECT {t:String}, 'users', 'c1', [], toDateTime({h:UInt32}, 'UTC'), 3, arrayReduce('uniqExactState', ['alice', 'bob']), 1
              UNION ALL SELECT {t:String}, 'users', 'c1', [], toDateTime({stale:UInt32}, 'UTC'), 1, arrayReduce('uniqExactState', ['mallory']), 1`,
      query_params: { t: tenant, h: h / 1000, stale: (h - 3_600_000) / 1000 },
    });

    await migratePostgres(stores.postgres, pg);
    await migrateClickHouse(stores.clickhouse, ch);

    const byKey = new Map((await meters.all()).map((m) => [m.key, m]));
    expect(byKey.get('users')?.backfilled_through).toBeNull();
    expect(byKey.get('calls')?.backfilled_through).not.toBeNull();
    const cols = await stores.clickhouse.client.query({
      query: 'SELECT groupArray(name) AS names FROM system.columns WHERE database = {db:String} AND table = {table:String}',
      query_params: { db: stores.clickhouse.database, table: 'usage_hourly_v1' },
      format: 'JSONEachRow',
    });
    const names = (await cols.json<{ names: string[] }>())[0]?.names;
    expect(names).toContain('uniq_values');
    expect(names).not.toContain('uniq_state');

    const aggregator = storesAggregator(stores, meters);
    const report = await aggregator.runOnce();
    expect(report.metersBackfilled).toBe(1);

    const rs = await stores.clickhouse.client.query({
      query: `SELECT toUnixTimestamp(hour) AS hour, events, uniq_values FROM ${hourly} FINAL WHERE tenant_id = {t:String} AND meter = 'users' ORDER BY hour`,
      query_params: { t: tenant },
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([
      { hour: (h - 3_600_000) / 1000, events: '0', uniq_values: [] },
      { hour: h / 1000, events: '3', uniq_values: ['alice', 'bob'] },
      { hour: (h + 3_600_000) / 1000, events: '1', uniq_values: ['carol'] },
    ]);
    const total = await stores.clickhouse.client.query({
      query: `SELECT toString(uniqExactArray(uniq_values)) AS n FROM ${hourly} FINAL WHERE tenant_id = {t:String} AND meter = 'users' AND events > 0`,
      query_params: { t: tenant },
      format: 'JSONEachRow',
    });
    expect(await total.json()).toEqual([{ n: '3' }]);
  });
});
