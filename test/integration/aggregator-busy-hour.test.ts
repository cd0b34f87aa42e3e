import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../core/ids.js';
import { migrateAll } from '../../core/migrate.js';
import { pgMeterRepository } from '../../metering/meters.js';
import { storesAggregator } from '../support/aggregator.js';
import { openTestStores, type TestStores } from '../support/stores.js';

/**
 * A recompute of hours holding more rows than the primary-key analysis takes (100,000) finds
 * their later copies by counting id hashes first instead of by the set of the hours' id
 * strings. Both ways must leave exactly the first copies: checked against an explicit dedup on
 * a busy hour with later copies in the same and in another hour, and retried sends.
 */
let stores: TestStores;
beforeEach(async () => {
  stores = await openTestStores();
  await migrateAll(stores);
});
afterEach(async () => {
  await stores.cleanup();
});

describe('recomputing a busy hour', () => {
  it('counts each event of 150,000 once, with 10 % copies, as an explicit dedup does', async () => {
    const ch = stores.clickhouse;
    const tenant = newId('ten');
    await stores.postgres.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [tenant, 'busy']);
    const meters = pgMeterRepository(stores.postgres);
    await meters.create(tenant, { key: 'calls', name: 'Calls', aggregation: 'sum' });
    const aggregator = storesAggregator(stores, meters);
    // The meter's first run backfills nothing: the events below are recomputed by their hours.
    expect((await aggregator.runOnce()).metersBackfilled).toBe(1);

    const raw = ch.table('raw_events_v1');
    const h = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3 * 3_600_000;
    const n = 150_000;
    await ch.client.command({
      query: `INSERT INTO ${raw} (tenant_id, id, customer, meter, value, timestamp, properties, ingested_at, visible_at)
              SELECT {t:String}, concat('e', toString(number)), concat('c', toString(number % 500)), 'calls', toDecimal128(number % 7, 6),
                     fromUnixTimestamp64Milli(toInt64({h:Int64} + (number * 7919) % 3600000)), '{}',
                     fromUnixTimestamp64Micro(toInt64({h:Int64} * 1000 + number)), now64(6)
              FROM numbers({n:UInt64})`,
      query_params: { t: tenant, h, n },
    });
    // Copies accepted later: every tenth event with another value, half of them in the next
    // hour; every thirtieth sent again unchanged (a retry).
    await ch.client.command({
      query: `INSERT INTO ${raw} (tenant_id, id, customer, meter, value, timestamp, properties, ingested_at, visible_at)
              SELECT tenant_id, id, customer, meter, value + toDecimal128(100, 6), timestamp + toIntervalMinute(if(cityHash64(id) % 2 = 0, 61, 0)), properties,
                     ingested_at + toIntervalSecond(5), now64(6)
              FROM ${raw} WHERE tenant_id = {t:String} AND cityHash64(id) % 10 = 0
              UNION ALL
              SELECT tenant_id, id, customer, meter, value, timestamp, properties, ingested_at + toIntervalSecond(7), now64(6)
              FROM ${raw} WHERE tenant_id = {t:String} AND cityHash64(id) % 30 = 1`,
      query_params: { t: tenant },
    });

    const report = await aggregator.runOnce();
    expect(report.metersBackfilled).toBe(0);
    // The busy hour, and the two the moved copies (61 minutes later) fall into.
    expect(report.hoursRecomputed).toBe(3);

    const q = async (query: string) => {
      const rs = await ch.client.query({ query, query_params: { t: tenant }, format: 'JSONEachRow' });
      return rs.json<Record<string, string>>();
    };
    const busy = await q(`SELECT toString(count()) AS n FROM ${raw} WHERE tenant_id = {t:String} AND toStartOfHour(timestamp) = toStartOfHour(fromUnixTimestamp64Milli(${h}))`);
    expect(Number(busy[0]!.n)).toBeGreaterThan(100_000);
    const want = await q(`SELECT toString(toStartOfHour(tupleElement(f, 1))) AS hour, toString(count()) AS counted, toString(sum(tupleElement(f, 2))) AS sum
                          FROM (SELECT id, argMin(tuple(timestamp, value), tuple(ingested_at, cityHash64(customer, meter, ifNull(toString(value), ''), toString(timestamp), properties))) AS f
                                FROM ${raw} WHERE tenant_id = {t:String} GROUP BY id)
                          GROUP BY hour ORDER BY hour`);
    const got = await q(`SELECT toString(hour) AS hour, toString(sum(events)) AS counted, toString(sum(sum_value)) AS sum
                         FROM ${ch.table('usage_hourly_v1')} FINAL WHERE tenant_id = {t:String} AND events > 0 GROUP BY hour ORDER BY hour`);
    expect(got).toEqual(want);
    // Every event once, all in their first copies' hour; the copies' extra 100 nowhere.
    expect(want.map((r) => r.counted)).toEqual([String(n)]);
    const plain = await q(`SELECT toString(sum(toDecimal128(number % 7, 6))) AS s FROM numbers(${n})`);
    expect(want[0]!.sum).toBe(plain[0]!.s);
  });
});
