import path from 'node:path';
import { z } from 'zod';

/**
 * The one place that reads the environment. `loadConfig` validates every variable, names the
 * variable and what is allowed when one is wrong, and returns a frozen object that is passed
 * down; nothing else touches `process.env`.
 */

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function int(name: string, min: number, max: number, dflt: number) {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === '') return dflt;
      if (!/^\d+$/.test(raw.trim())) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max} (got "${raw}")` });
        return z.NEVER;
      }
      const n = Number(raw.trim());
      if (n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max} (got "${raw}")` });
        return z.NEVER;
      }
      return n;
    })
    .describe(name);
}

function bool(dflt: boolean) {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === '') return dflt;
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      ctx.addIssue({ code: 'custom', message: `must be true or false (or 1/0, yes/no, on/off; got "${raw}")` });
      return z.NEVER;
    });
}

function url(protocols: readonly string[]) {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === '') return undefined;
      let parsed: URL;
      try {
        parsed = new URL(raw.trim());
      } catch {
        ctx.addIssue({ code: 'custom', message: `must be a URL (${protocols.join(' or ')}), got an unparsable value` });
        return z.NEVER;
      }
      const proto = parsed.protocol.replace(/:$/, '');
      if (!protocols.includes(proto)) {
        ctx.addIssue({ code: 'custom', message: `must be a URL with scheme ${protocols.join(' or ')} (got "${proto}:")` });
        return z.NEVER;
      }
      return raw.trim();
    });
}

function secret(prefixes: readonly string[], what: string) {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === '') return undefined;
      if (!prefixes.some((p) => raw.startsWith(p))) {
        ctx.addIssue({ code: 'custom', message: `must be ${what} starting with ${prefixes.join(' or ')}` });
        return z.NEVER;
      }
      return raw;
    });
}

const EnvSchema = z.object({
  PORT: int('PORT', 0, 65535, 8080),
  HOST: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? '0.0.0.0' : v.trim())),
  TALLY_DATA_DIR: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? './.tally' : v.trim())),
  TALLY_ADMIN_KEY: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw === '') return undefined;
      if (raw.length < 24 || /\s/.test(raw)) {
        ctx.addIssue({ code: 'custom', message: 'must be at least 24 characters with no spaces (use a random secret)' });
        return z.NEVER;
      }
      return raw;
    }),
  CLICKHOUSE_URL: url(['http', 'https']),
  CLICKHOUSE_CLUSTER: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === '') return undefined;
      if (!IDENTIFIER.test(raw.trim())) {
        ctx.addIssue({ code: 'custom', message: `must be the cluster's name from remote_servers, letters, digits and _ (got "${raw}")` });
        return z.NEVER;
      }
      return raw.trim();
    }),
  CLICKHOUSE_DATABASE: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const v = raw === undefined || raw.trim() === '' ? 'tally' : raw.trim();
      if (!IDENTIFIER.test(v)) {
        ctx.addIssue({ code: 'custom', message: `must be an identifier of letters, digits and _ (got "${raw}")` });
        return z.NEVER;
      }
      return v;
    }),
  DATABASE_URL: url(['postgres', 'postgresql']),
  STRIPE_SECRET_KEY: secret(['sk_', 'rk_'], 'a Stripe secret or restricted key'),
  STRIPE_WEBHOOK_SECRET: secret(['whsec_'], 'a Stripe webhook signing secret'),
  STRIPE_API_BASE: url(['http', 'https']),
  LOG_LEVEL: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const v = raw === undefined || raw.trim() === '' ? 'info' : raw.trim().toLowerCase();
      if (!(LOG_LEVELS as readonly string[]).includes(v)) {
        ctx.addIssue({ code: 'custom', message: `must be one of ${LOG_LEVELS.join(', ')} (got "${raw}")` });
        return z.NEVER;
      }
      return v as (typeof LOG_LEVELS)[number];
    }),
  TALLY_MAX_BODY_BYTES: int('TALLY_MAX_BODY_BYTES', 1024, 256 * 1024 * 1024, 5 * 1024 * 1024),
  TALLY_HTTP_MAX_PENDING_RESPONSE_BYTES: int('TALLY_HTTP_MAX_PENDING_RESPONSE_BYTES', 64 * 1024, 16 * 1024 * 1024 * 1024, 64 * 1024 * 1024),
  TALLY_SHUTDOWN_TIMEOUT_MS: int('TALLY_SHUTDOWN_TIMEOUT_MS', 0, 600_000, 10_000),
  TALLY_PG_POOL_SIZE: int('TALLY_PG_POOL_SIZE', 1, 1000, 10),
  TALLY_AUTH_CACHE_SECONDS: int('TALLY_AUTH_CACHE_SECONDS', 0, 3600, 60),
  TALLY_HEALTH_TIMEOUT_MS: int('TALLY_HEALTH_TIMEOUT_MS', 50, 60_000, 2_000),
  TALLY_PGLITE_SHARED_BUFFERS: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const v = raw === undefined || raw.trim() === '' ? '32MB' : raw.trim();
      if (!/^[1-9]\d{0,5}(kB|MB|GB)$/.test(v)) {
        ctx.addIssue({ code: 'custom', message: `must be a Postgres memory size such as 32MB or 1GB (got "${raw}")` });
        return z.NEVER;
      }
      return v;
    }),
  TALLY_AGGREGATOR_INTERVAL_MS: int('TALLY_AGGREGATOR_INTERVAL_MS', 100, 3_600_000, 5_000),
  TALLY_AGGREGATOR_OVERLAP_SECONDS: int('TALLY_AGGREGATOR_OVERLAP_SECONDS', 0, 86_400, 120),
  TALLY_AGGREGATOR_SETTLE_MS: int('TALLY_AGGREGATOR_SETTLE_MS', 0, 600_000, 1_000),
  TALLY_AGGREGATOR_LEASE_SECONDS: int('TALLY_AGGREGATOR_LEASE_SECONDS', 1, 3600, 30),
  TALLY_RATER_INTERVAL_MS: int('TALLY_RATER_INTERVAL_MS', 100, 3_600_000, 10_000),
  TALLY_RATER_THREADS: int('TALLY_RATER_THREADS', 1, 256, 0),
  TALLY_CLOSE_GRACE_SECONDS: int('TALLY_CLOSE_GRACE_SECONDS', 0, 30 * 86_400, 3_600),
  TALLY_SYNC_INTERVAL_MS: int('TALLY_SYNC_INTERVAL_MS', 100, 3_600_000, 5_000),
  TALLY_STRIPE_WRITES_PER_SECOND: int('TALLY_STRIPE_WRITES_PER_SECOND', 0, 10_000, 0),
  TALLY_STRIPE_TIMEOUT_MS: int('TALLY_STRIPE_TIMEOUT_MS', 100, 600_000, 20_000),
  TALLY_SYNC_MAX_ATTEMPTS: int('TALLY_SYNC_MAX_ATTEMPTS', 1, 10_000, 100),
  TALLY_SYNC_LEASE_SECONDS: int('TALLY_SYNC_LEASE_SECONDS', 1, 3_600, 120),
  TALLY_DUNNING_SUSPEND_DAYS: int('TALLY_DUNNING_SUSPEND_DAYS', 0, 3_650, 14),
  TALLY_WEBHOOK_INTERVAL_MS: int('TALLY_WEBHOOK_INTERVAL_MS', 100, 3_600_000, 1_000),
  TALLY_WEBHOOK_TIMEOUT_MS: int('TALLY_WEBHOOK_TIMEOUT_MS', 100, 120_000, 10_000),
  TALLY_WEBHOOK_LEASE_SECONDS: int('TALLY_WEBHOOK_LEASE_SECONDS', 1, 3_600, 60),
  TALLY_WEBHOOK_RETENTION_DAYS: int('TALLY_WEBHOOK_RETENTION_DAYS', 0, 3_650, 30),
  TALLY_WEBHOOK_ALLOW_PRIVATE_URLS: bool(false),
  TALLY_INGEST_MAX_EVENTS: int('TALLY_INGEST_MAX_EVENTS', 1, 1_000_000, 10_000),
  TALLY_EVENT_MAX_PROPERTIES: int('TALLY_EVENT_MAX_PROPERTIES', 0, 10_000, 100),
  TALLY_EVENT_MAX_PROPERTIES_BYTES: int('TALLY_EVENT_MAX_PROPERTIES_BYTES', 2, 1024 * 1024, 16 * 1024),
  TALLY_EVENT_MAX_AGE_SECONDS: int('TALLY_EVENT_MAX_AGE_SECONDS', 0, 10 * 365 * 86_400, 35 * 86_400),
  TALLY_EVENT_MAX_FUTURE_SECONDS: int('TALLY_EVENT_MAX_FUTURE_SECONDS', 0, 7 * 86_400, 300),
  TALLY_INGEST_BATCH_ROWS: int('TALLY_INGEST_BATCH_ROWS', 1, 1_000_000, 20_000),
  TALLY_INGEST_FLUSH_MS: int('TALLY_INGEST_FLUSH_MS', 0, 60_000, 2),
  TALLY_INGEST_MAX_BUFFERED: int('TALLY_INGEST_MAX_BUFFERED', 1, 100_000_000, 200_000),
  TALLY_INGEST_FLUSH_CONCURRENCY: int('TALLY_INGEST_FLUSH_CONCURRENCY', 1, 64, 1),
  TALLY_INGEST_DEDUP_CACHE: int('TALLY_INGEST_DEDUP_CACHE', 0, 100_000_000, 250_000),
  TALLY_INGEST_RETRY_AFTER_SECONDS: int('TALLY_INGEST_RETRY_AFTER_SECONDS', 1, 3600, 1),
});

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Absolute path of the data directory (embedded stores, generated admin key). */
  readonly dataDir: string;
  readonly adminKey: string | undefined;
  readonly clickhouse: { readonly url: string | undefined; readonly database: string; readonly cluster: string | undefined };
  readonly postgres: { readonly url: string | undefined; readonly poolSize: number; readonly embeddedSharedBuffers: string };
  readonly stripe: {
    readonly secretKey: string | undefined;
    readonly webhookSecret: string | undefined;
    readonly apiBase: string | undefined;
  };
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly http: { readonly maxBodyBytes: number; readonly maxPendingResponseBytes: number; readonly shutdownTimeoutMs: number; readonly healthTimeoutMs: number };
  readonly auth: { readonly cacheSeconds: number };
  readonly ingest: IngestConfig;
  readonly aggregator: {
    readonly intervalMs: number;
    readonly overlapMs: number;
    readonly settleMs: number;
    readonly leaseSeconds: number;
  };
  readonly sync: {
    readonly intervalMs: number;
    /** Stripe writes per second; 25 for test-mode keys and 100 for live ones unless set. */
    readonly writesPerSecond: number;
    readonly timeoutMs: number;
    readonly maxAttempts: number;
    readonly leaseSeconds: number;
    /** How long a subscription stays past_due before it counts as suspended. */
    readonly suspendAfterMs: number;
  };
  readonly webhooks: {
    /** Pause between outbound-webhook dispatcher runs. */
    readonly intervalMs: number;
    /** How long a receiver has to answer one delivery. */
    readonly timeoutMs: number;
    readonly leaseSeconds: number;
    /** How long events and their delivery log are kept (0: for ever). */
    readonly retentionMs: number;
    /** Whether endpoints may be addresses inside the network (loopback, private ranges, link-local). */
    readonly allowPrivateUrls: boolean;
  };
  readonly rater: {
    /** Pause between incremental rating runs in `tally start`. */
    readonly intervalMs: number;
    /** Worker threads; 0 means one per core but one. */
    readonly threads: number;
    /** How long after a period ends it waits for late events before it is closed. */
    readonly closeGraceMs: number;
  };
}

export interface IngestConfig {
  /** Events in one request; more is a 413. */
  readonly maxEvents: number;
  readonly maxProperties: number;
  /** Serialised size of one event's properties. */
  readonly maxPropertiesBytes: number;
  readonly maxAgeSeconds: number;
  readonly maxFutureSeconds: number;
  /** A batch is flushed when it has this many rows... */
  readonly batchRows: number;
  /** ...or when its oldest row has waited this long. */
  readonly flushMs: number;
  /** Events accepted but not yet committed, across requests; above it new requests get 429. */
  readonly maxBuffered: number;
  readonly flushConcurrency: number;
  /** Recently accepted (tenant, id) pairs remembered to report resends as duplicates. */
  readonly dedupCache: number;
  readonly retryAfterSeconds: number;
}

/** A configuration problem: every bad variable with what is allowed. */
export class ConfigError extends Error {
  readonly problems: readonly { variable: string; message: string }[];
  constructor(problems: readonly { variable: string; message: string }[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

export function loadConfig(env: Env, cwd: string = process.cwd()): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? '?'), message: i.message })),
    );
  }
  const e = parsed.data;
  if (e.CLICKHOUSE_CLUSTER !== undefined && e.CLICKHOUSE_URL === undefined) {
    throw new ConfigError([{ variable: 'CLICKHOUSE_CLUSTER', message: 'needs CLICKHOUSE_URL: the embedded ClickHouse is a single server' }]);
  }
  const config: Config = {
    port: e.PORT,
    host: e.HOST,
    dataDir: path.resolve(cwd, e.TALLY_DATA_DIR),
    adminKey: e.TALLY_ADMIN_KEY,
    clickhouse: { url: e.CLICKHOUSE_URL, database: e.CLICKHOUSE_DATABASE, cluster: e.CLICKHOUSE_CLUSTER },
    postgres: { url: e.DATABASE_URL, poolSize: e.TALLY_PG_POOL_SIZE, embeddedSharedBuffers: e.TALLY_PGLITE_SHARED_BUFFERS },
    stripe: { secretKey: e.STRIPE_SECRET_KEY, webhookSecret: e.STRIPE_WEBHOOK_SECRET, apiBase: e.STRIPE_API_BASE },
    logLevel: e.LOG_LEVEL,
    http: {
      maxBodyBytes: e.TALLY_MAX_BODY_BYTES,
      maxPendingResponseBytes: e.TALLY_HTTP_MAX_PENDING_RESPONSE_BYTES,
      shutdownTimeoutMs: e.TALLY_SHUTDOWN_TIMEOUT_MS,
      healthTimeoutMs: e.TALLY_HEALTH_TIMEOUT_MS,
    },
    auth: { cacheSeconds: e.TALLY_AUTH_CACHE_SECONDS },
    aggregator: {
      intervalMs: e.TALLY_AGGREGATOR_INTERVAL_MS,
      overlapMs: e.TALLY_AGGREGATOR_OVERLAP_SECONDS * 1000,
      settleMs: e.TALLY_AGGREGATOR_SETTLE_MS,
      leaseSeconds: e.TALLY_AGGREGATOR_LEASE_SECONDS,
    },
    sync: {
      intervalMs: e.TALLY_SYNC_INTERVAL_MS,
      writesPerSecond: e.TALLY_STRIPE_WRITES_PER_SECOND > 0 ? e.TALLY_STRIPE_WRITES_PER_SECOND : /^(sk|rk)_test_/.test(e.STRIPE_SECRET_KEY ?? '') ? 25 : 100,
      timeoutMs: e.TALLY_STRIPE_TIMEOUT_MS,
      maxAttempts: e.TALLY_SYNC_MAX_ATTEMPTS,
      leaseSeconds: e.TALLY_SYNC_LEASE_SECONDS,
      suspendAfterMs: e.TALLY_DUNNING_SUSPEND_DAYS * 86_400_000,
    },
    webhooks: {
      intervalMs: e.TALLY_WEBHOOK_INTERVAL_MS,
      timeoutMs: e.TALLY_WEBHOOK_TIMEOUT_MS,
      leaseSeconds: e.TALLY_WEBHOOK_LEASE_SECONDS,
      retentionMs: e.TALLY_WEBHOOK_RETENTION_DAYS * 86_400_000,
      allowPrivateUrls: e.TALLY_WEBHOOK_ALLOW_PRIVATE_URLS,
    },
    rater: {
      intervalMs: e.TALLY_RATER_INTERVAL_MS,
      threads: e.TALLY_RATER_THREADS,
      closeGraceMs: e.TALLY_CLOSE_GRACE_SECONDS * 1000,
    },
    ingest: {
      maxEvents: e.TALLY_INGEST_MAX_EVENTS,
      maxProperties: e.TALLY_EVENT_MAX_PROPERTIES,
      maxPropertiesBytes: e.TALLY_EVENT_MAX_PROPERTIES_BYTES,
      maxAgeSeconds: e.TALLY_EVENT_MAX_AGE_SECONDS,
      maxFutureSeconds: e.TALLY_EVENT_MAX_FUTURE_SECONDS,
      batchRows: e.TALLY_INGEST_BATCH_ROWS,
      flushMs: e.TALLY_INGEST_FLUSH_MS,
      maxBuffered: e.TALLY_INGEST_MAX_BUFFERED,
      flushConcurrency: e.TALLY_INGEST_FLUSH_CONCURRENCY,
      dedupCache: e.TALLY_INGEST_DEDUP_CACHE,
      retryAfterSeconds: e.TALLY_INGEST_RETRY_AFTER_SECONDS,
    },
  };
  return deepFreeze(config);
}

/** Whether either store runs in-process (and so the data dir belongs to one process). */
export function isEmbedded(config: Config): boolean {
  return config.clickhouse.url === undefined || config.postgres.url === undefined;
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** Documentation of every variable, used by `--help` and kept beside the schema so they agree. */
export const CONFIG_DOC: readonly { variable: string; default: string; meaning: string }[] = [
  { variable: 'PORT', default: '8080', meaning: 'HTTP port (0 picks a free port)' },
  { variable: 'HOST', default: '0.0.0.0', meaning: 'HTTP bind address' },
  { variable: 'TALLY_DATA_DIR', default: './.tally', meaning: 'embedded stores and the generated admin key' },
  { variable: 'TALLY_ADMIN_KEY', default: '(generated in embedded mode)', meaning: 'admin key for /v1/tenants, 24+ chars' },
  { variable: 'CLICKHOUSE_URL', default: '(embedded chDB)', meaning: 'ClickHouse server, http(s)://user:pass@host:8123' },
  { variable: 'CLICKHOUSE_DATABASE', default: 'tally', meaning: 'ClickHouse database for Tally tables' },
  { variable: 'CLICKHOUSE_CLUSTER', default: '(none)', meaning: 'run ClickHouse DDL ON CLUSTER with Replicated engines (one shard, any replicas)' },
  { variable: 'DATABASE_URL', default: '(embedded PGlite)', meaning: 'Postgres server, postgres://user:pass@host:5432/db' },
  { variable: 'STRIPE_SECRET_KEY', default: '(none)', meaning: 'Stripe key, sk_... or rk_...' },
  { variable: 'STRIPE_WEBHOOK_SECRET', default: '(none)', meaning: 'Stripe webhook signing secret, whsec_...' },
  { variable: 'STRIPE_API_BASE', default: '(api.stripe.com)', meaning: 'a Stripe-compatible server, e.g. http://127.0.0.1:12111' },
  { variable: 'LOG_LEVEL', default: 'info', meaning: LOG_LEVELS.join(', ') },
  { variable: 'TALLY_MAX_BODY_BYTES', default: '5242880', meaning: 'largest request body accepted (413 above)' },
  { variable: 'TALLY_HTTP_MAX_PENDING_RESPONSE_BYTES', default: '67108864', meaning: 'reply bytes held for clients reading slowly, all connections together (a connection that would add more is closed)' },
  { variable: 'TALLY_SHUTDOWN_TIMEOUT_MS', default: '10000', meaning: 'how long shutdown waits for in-flight work' },
  { variable: 'TALLY_PG_POOL_SIZE', default: '10', meaning: 'Postgres connections (server mode; embedded uses 1)' },
  { variable: 'TALLY_AUTH_CACHE_SECONDS', default: '60', meaning: 'how long a verified API key is cached (other nodes than the revoking one trust a revoked key this long)' },
  { variable: 'TALLY_HEALTH_TIMEOUT_MS', default: '2000', meaning: 'store ping timeout for /readyz' },
  { variable: 'TALLY_PGLITE_SHARED_BUFFERS', default: '32MB', meaning: 'shared_buffers of the embedded Postgres' },
  { variable: 'TALLY_AGGREGATOR_INTERVAL_MS', default: '5000', meaning: 'pause between aggregator runs' },
  { variable: 'TALLY_AGGREGATOR_OVERLAP_SECONDS', default: '120', meaning: 'how far before its watermark each run re-reads (inserts still committing)' },
  { variable: 'TALLY_AGGREGATOR_SETTLE_MS', default: '1000', meaning: 'events younger than this wait for the next run' },
  { variable: 'TALLY_AGGREGATOR_LEASE_SECONDS', default: '30', meaning: 'lease of a run; a crashed run is taken over after it' },
  { variable: 'TALLY_RATER_INTERVAL_MS', default: '10000', meaning: 'pause between incremental rating runs' },
  { variable: 'TALLY_RATER_THREADS', default: '0', meaning: 'rating worker threads (0: one per core but one, at least 1)' },
  { variable: 'TALLY_CLOSE_GRACE_SECONDS', default: '3600', meaning: 'how long after a period ends it waits for late events before `tally close` invoices it' },
  { variable: 'TALLY_SYNC_INTERVAL_MS', default: '5000', meaning: 'pause between billing-sync runs' },
  { variable: 'TALLY_STRIPE_WRITES_PER_SECOND', default: '0', meaning: 'Stripe writes per second (0: 25 with a test-mode key, 100 with a live one)' },
  { variable: 'TALLY_STRIPE_TIMEOUT_MS', default: '20000', meaning: 'timeout of one Stripe request' },
  { variable: 'TALLY_SYNC_MAX_ATTEMPTS', default: '100', meaning: 'attempts before an outbox row is failed for good' },
  { variable: 'TALLY_SYNC_LEASE_SECONDS', default: '120', meaning: 'how long a sync worker holds a claimed outbox row' },
  { variable: 'TALLY_DUNNING_SUSPEND_DAYS', default: '14', meaning: 'days past due before a subscription counts as suspended' },
  { variable: 'TALLY_WEBHOOK_INTERVAL_MS', default: '1000', meaning: 'pause between outbound-webhook dispatcher runs' },
  { variable: 'TALLY_WEBHOOK_TIMEOUT_MS', default: '10000', meaning: 'how long a webhook receiver has to answer one delivery' },
  { variable: 'TALLY_WEBHOOK_LEASE_SECONDS', default: '60', meaning: 'how long a dispatcher holds a claimed delivery' },
  { variable: 'TALLY_WEBHOOK_RETENTION_DAYS', default: '30', meaning: 'days outbound events and their delivery log are kept (0: for ever)' },
  { variable: 'TALLY_WEBHOOK_ALLOW_PRIVATE_URLS', default: 'false', meaning: 'let webhook endpoints be loopback, private or link-local addresses' },
  { variable: 'TALLY_INGEST_MAX_EVENTS', default: '10000', meaning: 'events in one POST /v1/events (413 above)' },
  { variable: 'TALLY_EVENT_MAX_PROPERTIES', default: '100', meaning: 'properties of one event' },
  { variable: 'TALLY_EVENT_MAX_PROPERTIES_BYTES', default: '16384', meaning: 'serialised properties of one event' },
  { variable: 'TALLY_EVENT_MAX_AGE_SECONDS', default: '3024000', meaning: 'oldest event timestamp accepted (35 days)' },
  { variable: 'TALLY_EVENT_MAX_FUTURE_SECONDS', default: '300', meaning: 'how far in the future a timestamp may be' },
  { variable: 'TALLY_INGEST_BATCH_ROWS', default: '20000', meaning: 'rows that trigger an insert batch' },
  { variable: 'TALLY_INGEST_FLUSH_MS', default: '2', meaning: 'longest wait before a partial batch is inserted' },
  { variable: 'TALLY_INGEST_MAX_BUFFERED', default: '200000', meaning: 'uncommitted events held in memory (429 above)' },
  { variable: 'TALLY_INGEST_FLUSH_CONCURRENCY', default: '1', meaning: 'insert batches in flight at once (chDB runs one at a time; raise it for a ClickHouse server)' },
  { variable: 'TALLY_INGEST_DEDUP_CACHE', default: '250000', meaning: 'recent event ids remembered to report resends' },
  { variable: 'TALLY_INGEST_RETRY_AFTER_SECONDS', default: '1', meaning: 'Retry-After sent with 429 and 503' },
];
