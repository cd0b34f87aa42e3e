import { describe, expect, it } from 'vitest';
import { distributedRawEvents, forCluster } from '../../core/clickhouse-cluster.js';
import { ConfigError, loadConfig } from '../../core/config.js';
import { loadMigrations, migrationsDir, splitStatements } from '../../core/migrate.js';

/** The cluster form of the ClickHouse migrations: ON CLUSTER everywhere, Replicated engines. */
describe('ClickHouse DDL on a cluster', () => {
  it.each([
    [
      'a MergeTree table',
      'CREATE TABLE IF NOT EXISTS `tally`.`t` (a UInt8) ENGINE = MergeTree ORDER BY a',
      "CREATE TABLE IF NOT EXISTS `tally`.`t` ON CLUSTER `main` (a UInt8) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') ORDER BY a",
    ],
    [
      'a ReplacingMergeTree with its version column',
      'CREATE TABLE IF NOT EXISTS `tally`.`t`\n(a UInt8, version UInt64)\nENGINE = ReplacingMergeTree(version)\nORDER BY a',
      "CREATE TABLE IF NOT EXISTS `tally`.`t` ON CLUSTER `main`\n(a UInt8, version UInt64)\nENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)\nORDER BY a",
    ],
    ['a view', 'CREATE VIEW IF NOT EXISTS `tally`.`v` AS SELECT 1', 'CREATE VIEW IF NOT EXISTS `tally`.`v` ON CLUSTER `main` AS SELECT 1'],
    [
      'a materialized view',
      'CREATE MATERIALIZED VIEW IF NOT EXISTS `tally`.`mv` TO `tally`.`t` AS SELECT 1',
      'CREATE MATERIALIZED VIEW IF NOT EXISTS `tally`.`mv` ON CLUSTER `main` TO `tally`.`t` AS SELECT 1',
    ],
    ['an ALTER', 'ALTER TABLE `tally`.`t` ADD INDEX IF NOT EXISTS i a TYPE minmax GRANULARITY 1', 'ALTER TABLE `tally`.`t` ON CLUSTER `main` ADD INDEX IF NOT EXISTS i a TYPE minmax GRANULARITY 1'],
    ['a DROP', 'DROP TABLE IF EXISTS `tally`.`t`', 'DROP TABLE IF EXISTS `tally`.`t` ON CLUSTER `main`'],
    ['a Null table (it keeps nothing to replicate)', 'CREATE TABLE IF NOT EXISTS `tally`.`n` (a UInt8) ENGINE = Null', 'CREATE TABLE IF NOT EXISTS `tally`.`n` ON CLUSTER `main` (a UInt8) ENGINE = Null'],
    ['the database', 'CREATE DATABASE IF NOT EXISTS `tally`', 'CREATE DATABASE IF NOT EXISTS `tally` ON CLUSTER `main`'],
    ['an INSERT (unchanged: it runs once, and replication copies it)', 'INSERT INTO `tally`.`t` SELECT 1', 'INSERT INTO `tally`.`t` SELECT 1'],
  ])('rewrites %s', (_name, sql, expected) => {
    expect(forCluster(sql, 'main')).toBe(expected);
  });

  it('leaves no statement of the real migrations on one server only, and no engine unreplicated', () => {
    const statements = loadMigrations(migrationsDir('clickhouse')).flatMap((m) => splitStatements(m.sql.replaceAll('{db}', '`tally`')));
    expect(statements.length).toBeGreaterThan(5);
    for (const s of statements.map((x) => forCluster(x, 'main'))) {
      if (/^(CREATE|ALTER|DROP)\b/i.test(s)) expect(s, s.slice(0, 80)).toMatch(/ ON CLUSTER `main`/);
      if (/ENGINE\s*=/i.test(s) && !/ENGINE\s*=\s*Null\b/i.test(s)) expect(s, s.slice(0, 80)).toMatch(/ENGINE = Replicated\w*MergeTree\('\/clickhouse\/tables\/\{shard\}\/\{database\}\/\{table\}', '\{replica\}'/);
    }
  });

  it('spreads the raw events over the cluster in a Distributed table', () => {
    expect(distributedRawEvents('tally', 'main')).toMatch(/CREATE TABLE IF NOT EXISTS `tally`.`raw_events_v1_all` ON CLUSTER `main` AS `tally`.`raw_events_v1`\s+ENGINE = Distributed\(`main`, `tally`, `raw_events_v1`, cityHash64\(tenant_id\)\)/);
  });

  it('is a setting of a ClickHouse server only', () => {
    expect(loadConfig({ CLICKHOUSE_URL: 'http://ch:8123', CLICKHOUSE_CLUSTER: 'main' }).clickhouse.cluster).toBe('main');
    expect(loadConfig({}).clickhouse.cluster).toBeUndefined();
    expect(() => loadConfig({ CLICKHOUSE_CLUSTER: 'main' })).toThrow(ConfigError);
    expect(() => loadConfig({ CLICKHOUSE_URL: 'http://ch:8123', CLICKHOUSE_CLUSTER: 'no spaces' })).toThrow(/CLICKHOUSE_CLUSTER/);
  });
});
