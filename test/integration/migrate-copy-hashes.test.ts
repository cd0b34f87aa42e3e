import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../core/ids.js';
import { loadMigrations, migrateClickHouse, migratePostgres, migrationsDir } from '../../core/migrate.js';
import { pgMeterRepository } from '../../metering/meters.js';
import { storesAggregator } from '../support/aggregator.js';
import { openTestStores, type TestStores } from '../support/stores.js';

/**
 * ClickHouse migration 0011 gives the raw table its id and content hashes as columns kept at
 * insert time, which the rollup reads instead of computing them. Parts written before it compute
 * the columns when read. Either way the values must be the ones event_ids_v1 recorded for each
 * copy, or a first copy would be taken for a later one (or the other way round) and counted
 * wrongly: checked here on a store holding copies from both sides of the migration, including
 * copies accepted in the same microsecond, which only the content hash orders.
 */
let stores: TestStores;
beforeEach(async () => {
  stores = await openTestStores();
});
afterEach(async () => {
  await stores.cleanup();
});

const HASH = "cityHash64(customer, meter, ifNull(toString(value), ''), toString(timestamp), properties)";

describe('upgrading the raw table to stored copy hashes', () => {
  it('counts first copies written before and after the migration exactly as an explicit dedup does', async () => {
    const ch = stores.clickhouse;
    const chMigrations = loadMigrations(migrationsDir('clickhouse'));
    await migratePostgres(stores.postgres, loadMigrations(migrationsDir('postgres')));
    await migrateClickHouse(ch, chMigrations.filter((m) => m.version < 11));

    const tenant = newId('ten');
    await stores.postgres.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [tenant, 'upgrade']);
    const meters = pgMeterRepository(stores.postgres);
    await meters.create(tenant, { key: 'calls', name: 'Calls', aggregation: 'sum' });
    await meters.create(tenant, { key: 'level', name: 'Level', aggregation: 'latest' });

    const raw = ch.table('raw_events_v1');
    const h = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 5 * 3_600_000;
    const at = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
    type Row = [id: string, meter: string, value: string, ts: number, accepted: number];
    const insert = (rows: Row[]) =>
      ch.client.insert({
        table: raw,
        // Made visible now, as the shipper does, whenever they were accepted.
        columns: ['tenant_id', 'id', 'customer', 'meter', 'value', 'timestamp', 'properties', 'ingested_at', 'visible_at'],
        values: rows.map(([id, meter, value, ts, accepted]) => ({
          tenant_id: tenant, id, customer: 'c1', meter, value, timestamp: at(ts), properties: '{}', ingested_at: at(accepted), visible_at: at(Date.now()),
        })),
        format: 'JSONEachRow',
      });
    // Parts written before the migration must stay unmerged for the test to read the columns
    // computed from their expression rather than written by a merge.
    await ch.client.command({ query: `SYSTEM STOP MERGES ${raw}` });
    // Before the migration: first copies, later copies in the same and in another hour, a retried
    // send (same content, accepted later) and two copies accepted in the same instant with
    // different content.
    await insert([
      ['e1', 'calls', '1', h + 60_000, h + 60_000],
      ['e2', 'calls', '2', h + 120_000, h + 120_000],
      ['e3', 'calls', '4', h + 180_000, h + 180_000],
      ['e1', 'calls', '100', h + 60_000, h + 90_000],
      ['e2', 'calls', '200', h + 3_600_000 + 1_000, h + 130_000],
      ['e4', 'calls', '8', h + 240_000, h + 240_000],
      ['e4', 'calls', '16', h + 240_000, h + 240_000],
      ['e6', 'calls', '128', h + 260_000, h + 260_000],
      ['e6', 'calls', '128', h + 260_000, h + 270_000],
      ['l1', 'level', '5', h + 300_000, h + 300_000],
      ['l2', 'level', '6', h + 300_000, h + 300_000],
    ]);
    await migrateClickHouse(ch, chMigrations);
    // After it: a later copy of an event written before, a retry of one written before, new
    // same-instant copies and a new retried send.
    await insert([
      ['e3', 'calls', '400', h + 180_000, h + 200_000],
      ['e6', 'calls', '128', h + 260_000, h + 280_000],
      ['e5', 'calls', '32', h + 250_000, h + 250_000],
      ['e5', 'calls', '64', h + 250_000, h + 250_000],
      ['e7', 'calls', '256', h + 265_000, h + 265_000],
      ['e7', 'calls', '256', h + 265_000, h + 266_000],
      ['l3', 'level', '7', h + 310_000, h + 310_000],
      ['l4', 'level', '9', h + 3_600_000 + 5_000, h + 3_600_000 + 5_000],
      ['l5', 'level', '3', h + 3_600_000 + 5_000, h + 3_600_000 + 5_000],
    ]);

    const q = async (query: string) => {
      const rs = await ch.client.query({ query, query_params: { t: tenant }, format: 'JSONEachRow' });
      return rs.json<Record<string, string>>();
    };
    // The part written before the migration does not hold the columns: they are computed on read.
    const stored = await q(`SELECT toString(countIf(has(cols, 'copy_hash'))) AS with_hash, toString(countIf(NOT has(cols, 'copy_hash'))) AS without_hash
                            FROM (SELECT name, groupArray(column) AS cols FROM system.parts_columns
                                  WHERE database = '${ch.database}' AND table = 'raw_events_v1' AND active GROUP BY name)`);
    expect(Number(stored[0]!.with_hash)).toBeGreaterThan(0);
    expect(Number(stored[0]!.without_hash)).toBeGreaterThan(0);

    // Every row's stored hashes are the ones event_ids_v1 recorded for its copy.
    const mismatched = `SELECT toString(count()) AS n FROM ${raw} WHERE tenant_id = {t:String}
                          AND (id_hash != cityHash64(id) OR copy_hash != ${HASH}
                               OR (id, tuple(ingested_at, copy_hash)) NOT IN (SELECT id, ord FROM ${ch.table('event_ids_v1')} WHERE tenant_id = {t:String}))`;
    expect(await q(mismatched)).toEqual([{ n: '0' }]);

    const aggregator = storesAggregator(stores, meters);

    // The oracle: each id's first copy by (acceptance time, content hash), computed from the
    // columns' defining expression rather than the columns.
    const oracle = () =>
      q(`SELECT tupleElement(f, 1) AS meter, toString(toStartOfHour(tupleElement(f, 2))) AS hour, toString(sum(tupleElement(f, 3))) AS sum, toString(count()) AS counted,
                toString(argMax(tupleElement(f, 3), tuple(tupleElement(f, 2), tupleElement(f, 4), tupleElement(f, 5)))) AS latest
         FROM (SELECT id, argMin(tuple(meter, timestamp, value, ingested_at, ${HASH}), tuple(ingested_at, ${HASH})) AS f
               FROM ${raw} WHERE tenant_id = {t:String} GROUP BY id)
         GROUP BY meter, hour ORDER BY meter, hour`);
    const rollups = () =>
      q(`SELECT meter, toString(hour) AS hour, toString(sum_value) AS sum, toString(events) AS counted, toString(latest_value) AS latest
         FROM ${ch.table('usage_hourly_v1')} FINAL WHERE tenant_id = {t:String} AND events > 0 ORDER BY meter, hour`);
    const relevant = (rows: Record<string, string>[]) => rows.map((r) => ({ ...r, ...(r.meter === 'calls' ? { latest: '' } : { sum: '' }) }));

    // The backfill: every hour of both meters.
    expect((await aggregator.runOnce()).metersBackfilled).toBe(2);
    const want = await oracle();
    expect(relevant(await rollups())).toEqual(relevant(want));
    // And the oracle is what the rows above say: e1 1, e2 2, e3 4, e6 128, e7 256 (their first
    // copies), e4 and e5 one of their two same-instant copies each; l3 the latest of the level
    // meter's first hour, one of the same-instant l4 and l5 (by content hash) of its second.
    const calls = want.filter((r) => r.meter === 'calls');
    expect(calls.map((r) => r.counted)).toEqual(['7']);
    expect(['431', '439', '463', '471']).toContain(calls[0]!.sum);
    const level = want.filter((r) => r.meter === 'level').map((r) => r.latest);
    expect(level[0]).toBe('7');
    expect(['9', '3']).toContain(level[1]);

    // A run recomputing listed hours (the steady state) over the same parts: copies of events
    // written before the migration, made visible now, and a new event.
    await insert([
      ['e1', 'calls', '1000', h + 60_000, h + 95_000],
      ['e6', 'calls', '128', h + 260_000, h + 290_000],
      ['e8', 'calls', '512', h + 270_000, h + 270_000],
    ]);
    expect(await q(mismatched)).toEqual([{ n: '0' }]);
    const report = await aggregator.runOnce();
    expect(report.metersBackfilled).toBe(0);
    expect(report.hoursRecomputed).toBeGreaterThan(0);
    const after = await oracle();
    expect(relevant(await rollups())).toEqual(relevant(after));
    expect(after.filter((r) => r.meter === 'calls').map((r) => r.counted)).toEqual(['8']);
  });
});
