import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_DOC, ConfigError, isEmbedded, loadConfig, SETTINGS } from '../../core/config.js';

function problems(env: Record<string, string>): { variable: string; message: string }[] {
  try {
    loadConfig(env, '/srv');
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  return [];
}

describe('config', () => {
  it('has documented defaults for an empty environment', () => {
    const c = loadConfig({}, '/srv');
    expect(c.port).toBe(8080);
    expect(c.host).toBe('0.0.0.0');
    expect(c.dataDir).toBe(path.resolve('/srv', '.tally'));
    expect(c.clickhouse).toEqual({ url: undefined, database: 'tally', embeddedMaxMemory: { percent: 50 } });
    expect(c.aggregator.queryMemory).toEqual({ percent: 50 });
    expect(c.postgres).toEqual({ url: undefined, poolSize: 10, embeddedSharedBuffers: '32MB' });
    expect(c.adminKey).toBeUndefined();
    expect(c.logLevel).toBe('info');
    expect(c.http).toEqual({ maxBodyBytes: 5 * 1024 * 1024, maxPendingResponseBytes: 64 * 1024 * 1024, shutdownTimeoutMs: 10_000, healthTimeoutMs: 2_000 });
    expect(c.auth.cacheSeconds).toBe(60);
    expect(isEmbedded(c)).toBe(true);
  });

  it('is frozen, so nothing can change it after start-up', () => {
    const c = loadConfig({}, '/srv');
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.http)).toBe(true);
  });

  it('reads every variable', () => {
    const c = loadConfig(
      {
        PORT: '9000',
        HOST: '127.0.0.1',
        TALLY_DATA_DIR: 'data',
        TALLY_ADMIN_KEY: 'a'.repeat(32),
        CLICKHOUSE_URL: 'https://u:p@ch.example:8443',
        CLICKHOUSE_DATABASE: 'metering',
        DATABASE_URL: 'postgres://u:p@db:5432/tally',
        STRIPE_SECRET_KEY: 'sk_test_123',
        STRIPE_WEBHOOK_SECRET: 'whsec_abc',
        STRIPE_API_BASE: 'http://127.0.0.1:12111',
        LOG_LEVEL: 'DEBUG',
        TALLY_MAX_BODY_BYTES: '2048',
        TALLY_SHUTDOWN_TIMEOUT_MS: '500',
        TALLY_PG_POOL_SIZE: '3',
        TALLY_AUTH_CACHE_SECONDS: '0',
        TALLY_HEALTH_TIMEOUT_MS: '100',
      },
      '/srv',
    );
    expect(c).toMatchObject({
      port: 9000,
      host: '127.0.0.1',
      dataDir: '/srv/data',
      adminKey: 'a'.repeat(32),
      clickhouse: { url: 'https://u:p@ch.example:8443', database: 'metering' },
      postgres: { url: 'postgres://u:p@db:5432/tally', poolSize: 3 },
      stripe: { secretKey: 'sk_test_123', webhookSecret: 'whsec_abc', apiBase: 'http://127.0.0.1:12111' },
      logLevel: 'debug',
      http: { maxBodyBytes: 2048, shutdownTimeoutMs: 500, healthTimeoutMs: 100 },
      auth: { cacheSeconds: 0 },
    });
    expect(isEmbedded(c)).toBe(false);
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '', TALLY_ADMIN_KEY: '' }, '/srv')).toMatchObject({ port: 8080, postgres: { url: undefined }, adminKey: undefined });
  });

  it.each([
    ['PORT', 'abc', /whole number from 0 to 65535/],
    ['PORT', '70000', /whole number from 0 to 65535/],
    ['PORT', '-1', /whole number/],
    ['PORT', '80.5', /whole number/],
    ['HOST', 'local host', /an IP address \(such as 0.0.0.0, 127.0.0.1 or ::\) or a host name/],
    ['HOST', 'http://0.0.0.0', /an IP address/],
    ['HOST', '0.0.0.0:8080', /an IP address/],
    ['HOST', '-bad-.example', /a host name/],
    ['TALLY_ADMIN_KEY', 'short', /at least 24 characters/],
    ['TALLY_ADMIN_KEY', `${'a'.repeat(20)} ${'b'.repeat(10)}`, /no spaces/],
    ['CLICKHOUSE_URL', 'not a url', /must be a URL/],
    ['CLICKHOUSE_URL', 'tcp://ch:9000', /scheme http or https/],
    ['CLICKHOUSE_DATABASE', 'bad-name', /identifier/],
    ['CLICKHOUSE_DATABASE', '1abc', /identifier/],
    ['DATABASE_URL', 'mysql://db/x', /scheme postgres or postgresql/],
    ['DATABASE_URL', '::::', /must be a URL/],
    ['STRIPE_SECRET_KEY', 'pk_test_123', /sk_ or rk_/],
    ['STRIPE_WEBHOOK_SECRET', 'secret', /whsec_/],
    ['STRIPE_API_BASE', 'ftp://x', /scheme http or https/],
    ['LOG_LEVEL', 'loud', /one of fatal, error, warn, info, debug, trace, silent/],
    ['TALLY_MAX_BODY_BYTES', '10', /from 1024 to/],
    ['TALLY_SHUTDOWN_TIMEOUT_MS', 'soon', /whole number/],
    ['TALLY_PG_POOL_SIZE', '0', /from 1 to 1000/],
    ['TALLY_AUTH_CACHE_SECONDS', '99999', /from 0 to 3600/],
    ['TALLY_HEALTH_TIMEOUT_MS', '1', /from 50 to/],
    ['TALLY_PGLITE_SHARED_BUFFERS', 'lots', /memory size such as 32MB/],
    ['TALLY_PGLITE_SHARED_BUFFERS', '16mb', /memory size/],
    ['TALLY_CHDB_MAX_MEMORY', 'lots', /a size of at least 64MiB such as 512MiB or 4GiB, or a percentage from 1% to 100%/],
    ['TALLY_CHDB_MAX_MEMORY', '32MiB', /at least 64MiB/],
    ['TALLY_CHDB_MAX_MEMORY', '0%', /percentage from 1% to 100%/],
    ['TALLY_CHDB_MAX_MEMORY', '101%', /percentage/],
    ['TALLY_CHDB_MAX_MEMORY', '1.5GiB', /a size/],
    ['TALLY_CHDB_MAX_MEMORY', '4GB', /a size/],
    ['TALLY_CHDB_MAX_MEMORY', '-1GiB', /a size/],
    ['TALLY_CHDB_MAX_MEMORY', '99999999999999GiB', /a size/],
    ['TALLY_AGGREGATOR_QUERY_MEMORY', '1MiB', /at least 16MiB/],
    ['TALLY_INGEST_MAX_EVENTS', '0', /from 1 to/],
    ['TALLY_EVENT_MAX_AGE_SECONDS', 'forever', /whole number/],
    ['TALLY_EVENTLOG_SEAL_MS', '0', /from 1 to 60000/],
    ['TALLY_EVENTLOG_MAX_PENDING_BYTES', '1000', /from 1048576 to/],
  ])('rejects %s=%j naming the variable and what is allowed', (variable, value, message) => {
    const found = problems({ [variable]: value });
    expect(found).toHaveLength(1);
    expect(found[0]!.variable).toBe(variable);
    expect(found[0]!.message).toMatch(message);
  });

  it.each(['0.0.0.0', '127.0.0.1', '::', '::1', 'fe80::1%eth0', 'localhost', 'tally-1.internal', 'tally.example.com.'])('listens on HOST=%s', (host) => {
    expect(loadConfig({ HOST: ` ${host} ` }).host).toBe(host);
  });

  it('reads memory bounds as sizes with binary units or as shares', () => {
    const c = loadConfig({ TALLY_CHDB_MAX_MEMORY: ' 4GiB ', TALLY_AGGREGATOR_QUERY_MEMORY: '25%' });
    expect(c.clickhouse.embeddedMaxMemory).toEqual({ bytes: 4 * 1024 ** 3 });
    expect(c.aggregator.queryMemory).toEqual({ percent: 25 });
    expect(loadConfig({ TALLY_CHDB_MAX_MEMORY: '67108864' }).clickhouse.embeddedMaxMemory).toEqual({ bytes: 64 * 1024 ** 2 });
    expect(loadConfig({ TALLY_AGGREGATOR_QUERY_MEMORY: '512MiB' }).aggregator.queryMemory).toEqual({ bytes: 512 * 1024 ** 2 });
  });

  it('reports every bad variable at once, in a message naming each', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'x', LOG_LEVEL: 'y' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/PORT: .*\n.*LOG_LEVEL: /s);
  });
});

describe('the declaration table', () => {
  it('declares each variable once and gives each its own place in Config', () => {
    expect(new Set(SETTINGS.map((s) => s.variable)).size).toBe(SETTINGS.length);
    expect(new Set(SETTINGS.map((s) => s.at)).size).toBe(SETTINGS.length);
    for (const s of SETTINGS) expect(s.at, s.variable).toMatch(/^[a-z][A-Za-z]*(\.[a-z][A-Za-z]*)?$/);
  });

  it('documents every declared variable for --help, optional ones by what unset means', () => {
    expect(CONFIG_DOC.map((d) => d.variable)).toEqual(SETTINGS.map((s) => s.variable));
    expect(CONFIG_DOC.find((d) => d.variable === 'TALLY_MAX_BODY_BYTES')).toEqual({
      variable: 'TALLY_MAX_BODY_BYTES',
      default: '5242880',
      meaning: 'largest request body accepted (413 above)',
    });
    expect(CONFIG_DOC.find((d) => d.variable === 'DATABASE_URL')?.default).toBe('(embedded PGlite)');
  });

  it('accepts every shown default written out, with the config of an empty environment', () => {
    // TALLY_RATER_THREADS=0 too (one thread per core but one): an env file copied from the table works.
    const written = Object.fromEntries(SETTINGS.filter((s) => s.unset === undefined).map((s) => [s.variable, s.shownDefault]));
    expect(written.TALLY_RATER_THREADS).toBe('0');
    expect(loadConfig(written, '/srv')).toEqual(loadConfig({}, '/srv'));
    expect(problems({ TALLY_RATER_THREADS: '-1' })).toEqual([{ variable: 'TALLY_RATER_THREADS', message: 'must be a whole number from 0 to 256 (got "-1")' }]);
  });

  it.each([
    ['seconds become milliseconds', { TALLY_AGGREGATOR_OVERLAP_SECONDS: '7', TALLY_CLOSE_GRACE_SECONDS: '60' }, { aggregator: { overlapMs: 7_000 }, rater: { closeGraceMs: 60_000 } }],
    ['days become milliseconds', { TALLY_DUNNING_SUSPEND_DAYS: '2', TALLY_WEBHOOK_RETENTION_DAYS: '0' }, { sync: { suspendAfterMs: 172_800_000 }, webhooks: { retentionMs: 0 } }],
    ['defaults in milliseconds', {}, { aggregator: { overlapMs: 120_000 }, rater: { closeGraceMs: 3_600_000 }, sync: { suspendAfterMs: 14 * 86_400_000 } }],
    ['a relative data dir is resolved against the working directory', { TALLY_DATA_DIR: ' ../data ' }, { dataDir: '/data' }],
    ['Stripe writes default to 100 a second without a key', {}, { sync: { writesPerSecond: 100 } }],
    ['25 a second with a test-mode key', { STRIPE_SECRET_KEY: 'rk_test_abc' }, { sync: { writesPerSecond: 25 } }],
    ['100 a second with a live key', { STRIPE_SECRET_KEY: 'sk_live_abc' }, { sync: { writesPerSecond: 100 } }],
    ['an explicit rate wins over the key', { STRIPE_SECRET_KEY: 'sk_test_abc', TALLY_STRIPE_WRITES_PER_SECOND: '7' }, { sync: { writesPerSecond: 7 } }],
    ['booleans in words', { TALLY_WEBHOOK_ALLOW_PRIVATE_URLS: ' Yes ' }, { webhooks: { allowPrivateUrls: true } }],
    ['a cluster with a server', { CLICKHOUSE_URL: 'http://ch:8123', CLICKHOUSE_CLUSTER: ' main ' }, { clickhouse: { cluster: 'main' } }],
  ])('%s', (_what, env: Record<string, string>, expected) => {
    expect(loadConfig(env, '/srv')).toMatchObject(expected);
  });

  it.each([
    ['TALLY_WEBHOOK_ALLOW_PRIVATE_URLS', 'maybe', 'must be true or false (or 1/0, yes/no, on/off; got "maybe")'],
    ['TALLY_ADMIN_KEY', ' '.repeat(30), 'must be at least 24 characters with no spaces (use a random secret)'],
    ['STRIPE_SECRET_KEY', ' sk_test_abc', 'must be a Stripe secret or restricted key starting with sk_ or rk_'],
    ['CLICKHOUSE_CLUSTER', 'a-b', 'must be the cluster\'s name from remote_servers, letters, digits and _ (got "a-b")'],
  ])('refuses %s=%j with the exact message', (variable, value, message) => {
    expect(problems({ [variable]: value })).toEqual([{ variable, message }]);
  });

  it('checks rules across variables only once each variable is valid', () => {
    expect(problems({ CLICKHOUSE_CLUSTER: 'main' })).toEqual([{ variable: 'CLICKHOUSE_CLUSTER', message: 'needs CLICKHOUSE_URL: the embedded ClickHouse is a single server' }]);
    expect(problems({ CLICKHOUSE_CLUSTER: 'main', PORT: 'x' }).map((p) => p.variable)).toEqual(['PORT']);
  });
});
