import path from 'node:path';
import { bool, chosenSecret, int, issuedSecret, listenHost, matching, memoryBound, oneOf, showMemoryBound, text, url } from './kinds.js';
import { setting } from './setting.js';

/**
 * Every setting, declared once: its variable, how its text is read (with bounds), its default,
 * where it goes in `Config` and one line for `--help`. `loadConfig`, the type `Config`,
 * `--help` and the README's table (checked by a test) all come from this list; its order is
 * the order of `--help` and of the README.
 */

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const MIB = 1024 * 1024;
const DAY_SECONDS = 86_400;
const secondsToMs = (seconds: number): number => seconds * 1000;
const daysToMs = (days: number): number => days * 86_400_000;

export const SETTINGS = [
  setting({ variable: 'PORT', at: 'port', kind: int(0, 65535), default: 8080, doc: 'HTTP port (0 picks a free port)' }),
  setting({ variable: 'HOST', at: 'host', kind: listenHost(), default: '0.0.0.0', doc: 'HTTP bind address' }),
  setting({
    variable: 'TALLY_DATA_DIR',
    at: 'dataDir',
    kind: text(),
    default: './.tally',
    doc: 'embedded stores and the generated admin key',
    // Absolute, so a later chdir cannot move the stores.
    then: (dir, { cwd }) => path.resolve(cwd, dir),
  }),
  setting({ variable: 'TALLY_ADMIN_KEY', at: 'adminKey', kind: chosenSecret(24), unset: 'generated in embedded mode', doc: 'admin key for /v1/tenants, 24+ chars' }),
  setting({ variable: 'CLICKHOUSE_URL', at: 'clickhouse.url', kind: url(['http', 'https']), unset: 'embedded chDB', doc: 'ClickHouse server, http(s)://user:pass@host:8123' }),
  setting({
    variable: 'CLICKHOUSE_DATABASE',
    at: 'clickhouse.database',
    kind: matching(IDENTIFIER, 'an identifier of letters, digits and _'),
    default: 'tally',
    doc: 'ClickHouse database for Tally tables',
  }),
  setting({
    variable: 'CLICKHOUSE_CLUSTER',
    at: 'clickhouse.cluster',
    kind: matching(IDENTIFIER, "the cluster's name from remote_servers, letters, digits and _"),
    unset: 'none',
    doc: 'run ClickHouse DDL ON CLUSTER with Replicated engines (one shard, any replicas)',
    check: (cluster, { values }) =>
      cluster !== undefined && values.CLICKHOUSE_URL === undefined ? 'needs CLICKHOUSE_URL: the embedded ClickHouse is a single server' : undefined,
  }),
  setting({ variable: 'DATABASE_URL', at: 'postgres.url', kind: url(['postgres', 'postgresql']), unset: 'embedded PGlite', doc: 'Postgres server, postgres://user:pass@host:5432/db' }),
  setting({ variable: 'STRIPE_SECRET_KEY', at: 'stripe.secretKey', kind: issuedSecret(['sk_', 'rk_'], 'a Stripe secret or restricted key'), unset: 'none', doc: 'Stripe key, sk_... or rk_...' }),
  setting({
    variable: 'STRIPE_WEBHOOK_SECRET',
    at: 'stripe.webhookSecret',
    kind: issuedSecret(['whsec_'], 'a Stripe webhook signing secret'),
    unset: 'none',
    doc: 'Stripe webhook signing secret, whsec_...',
  }),
  setting({ variable: 'STRIPE_API_BASE', at: 'stripe.apiBase', kind: url(['http', 'https']), unset: 'api.stripe.com', doc: 'a Stripe-compatible server, e.g. http://127.0.0.1:12111' }),
  setting({ variable: 'LOG_LEVEL', at: 'logLevel', kind: oneOf(LOG_LEVELS), default: 'info', doc: LOG_LEVELS.join(', ') }),
  setting({ variable: 'TALLY_MAX_BODY_BYTES', at: 'http.maxBodyBytes', kind: int(1024, 256 * MIB), default: 5 * MIB, doc: 'largest request body accepted (413 above)' }),
  setting({
    variable: 'TALLY_HTTP_MAX_PENDING_RESPONSE_BYTES',
    at: 'http.maxPendingResponseBytes',
    kind: int(64 * 1024, 16 * 1024 * MIB),
    default: 64 * MIB,
    doc: 'reply bytes held for clients reading slowly, all connections together (a connection that would add more is closed)',
  }),
  setting({ variable: 'TALLY_SHUTDOWN_TIMEOUT_MS', at: 'http.shutdownTimeoutMs', kind: int(0, 600_000), default: 10_000, doc: 'how long shutdown waits for in-flight work' }),
  setting({ variable: 'TALLY_PG_POOL_SIZE', at: 'postgres.poolSize', kind: int(1, 1000), default: 10, doc: 'Postgres connections (server mode; embedded uses 1)' }),
  setting({
    variable: 'TALLY_AUTH_CACHE_SECONDS',
    at: 'auth.cacheSeconds',
    kind: int(0, 3600),
    default: 60,
    doc: 'how long a verified API key is cached (other nodes than the revoking one trust a revoked key this long)',
  }),
  setting({ variable: 'TALLY_HEALTH_TIMEOUT_MS', at: 'http.healthTimeoutMs', kind: int(50, 60_000), default: 2_000, doc: 'store ping timeout for /readyz' }),
  setting({
    variable: 'TALLY_DISK_MIN_FREE_BYTES',
    at: 'diskMinFreeBytes',
    kind: int(0, 2 ** 50),
    default: 256 * MIB,
    doc: "below this many free bytes on the data dir's disk, /readyz says degraded, naming it (0: no check)",
  }),
  setting({
    variable: 'TALLY_CHDB_MAX_MEMORY',
    at: 'clickhouse.embeddedMaxMemory',
    kind: memoryBound(64 * MIB),
    default: { percent: 50 },
    show: showMemoryBound,
    doc: "memory the embedded ClickHouse may hold in all, a size (4GiB) or a share of the memory the process may use (its queries fail beyond it, instead of the process being killed)",
  }),
  setting({
    variable: 'TALLY_PGLITE_SHARED_BUFFERS',
    at: 'postgres.embeddedSharedBuffers',
    kind: matching(/^[1-9]\d{0,5}(kB|MB|GB)$/, 'a Postgres memory size such as 32MB or 1GB'),
    default: '32MB',
    doc: 'shared_buffers of the embedded Postgres',
  }),
  setting({ variable: 'TALLY_AGGREGATOR_INTERVAL_MS', at: 'aggregator.intervalMs', kind: int(100, 3_600_000), default: 5_000, doc: 'pause between aggregator runs' }),
  setting({
    variable: 'TALLY_AGGREGATOR_OVERLAP_SECONDS',
    at: 'aggregator.overlapMs',
    kind: int(0, DAY_SECONDS),
    default: 120,
    doc: 'how far before its watermark each run re-reads (inserts still committing)',
    then: secondsToMs,
  }),
  setting({ variable: 'TALLY_AGGREGATOR_SETTLE_MS', at: 'aggregator.settleMs', kind: int(0, 600_000), default: 1_000, doc: 'events younger than this wait for the next run' }),
  setting({
    variable: 'TALLY_AGGREGATOR_QUERY_MEMORY',
    at: 'aggregator.queryMemory',
    kind: memoryBound(16 * MIB),
    default: { percent: 50 },
    show: showMemoryBound,
    doc: "memory one aggregator statement may hold, a size or a share of ClickHouse's own bound (a meter beyond it is set aside, not the store)",
  }),
  setting({ variable: 'TALLY_AGGREGATOR_LEASE_SECONDS', at: 'aggregator.leaseSeconds', kind: int(1, 3600), default: 30, doc: 'lease of a run; a crashed run is taken over after it' }),
  setting({
    variable: 'TALLY_ENTITLEMENT_CACHE_MS',
    at: 'entitlements.cacheMs',
    kind: int(0, 60_000),
    default: 1_000,
    doc: 'how often a node reads again the usage behind the entitlement checks it answers from memory (0: every check reads the stores)',
  }),
  setting({ variable: 'TALLY_RATER_INTERVAL_MS', at: 'rater.intervalMs', kind: int(100, 3_600_000), default: 10_000, doc: 'pause between incremental rating runs' }),
  setting({ variable: 'TALLY_RATER_THREADS', at: 'rater.threads', kind: int(0, 256), default: 0, doc: 'rating worker threads (0: one per core but one, at least 1)' }),
  setting({
    variable: 'TALLY_CLOSE_GRACE_SECONDS',
    at: 'rater.closeGraceMs',
    kind: int(0, 30 * DAY_SECONDS),
    default: 3_600,
    doc: 'how long after a period ends it waits for late events before `tally close` invoices it',
    then: secondsToMs,
  }),
  setting({ variable: 'TALLY_SYNC_INTERVAL_MS', at: 'sync.intervalMs', kind: int(100, 3_600_000), default: 5_000, doc: 'pause between billing-sync runs' }),
  setting({
    variable: 'TALLY_STRIPE_WRITES_PER_SECOND',
    at: 'sync.writesPerSecond',
    kind: int(0, 10_000),
    default: 0,
    doc: 'Stripe writes per second (0: 25 with a test-mode key, 100 with a live one)',
    // Stripe's own limits: test mode allows a quarter of live mode.
    then: (perSecond, { values }) => {
      if (perSecond > 0) return perSecond;
      const key = values.STRIPE_SECRET_KEY;
      return typeof key === 'string' && /^(sk|rk)_test_/.test(key) ? 25 : 100;
    },
  }),
  setting({
    variable: 'TALLY_INVOICE_REVIEW',
    at: 'rater.invoiceReview',
    kind: bool(),
    default: false,
    doc: 'keep closed invoices as drafts until POST /v1/invoices/{id}/approve (numbered and sent to Stripe then)',
  }),
  setting({
    variable: 'TALLY_PUBLIC_URL',
    at: 'documents.publicUrl',
    kind: url(['http', 'https']),
    unset: 'http://localhost:PORT',
    doc: 'the base URL customers reach Tally at, for the links to hosted invoice pages',
    check: (base) => (base !== undefined && (new URL(base).search !== '' || new URL(base).hash !== '') ? 'must have no query string or fragment' : undefined),
    // Links are made by appending `/i/<token>`.
    then: (base, { values }) => (base ?? `http://localhost:${typeof values.PORT === 'number' ? values.PORT : 8080}`).replace(/\/+$/, ''),
  }),
  setting({ variable: 'TALLY_INVOICE_LINK_DAYS', at: 'documents.linkDays', kind: int(1, 365), default: 30, doc: 'days a hosted invoice link works when it is made without expires_in_days' }),
  setting({ variable: 'TALLY_STRIPE_TIMEOUT_MS', at: 'sync.timeoutMs', kind: int(100, 600_000), default: 20_000, doc: 'timeout of one Stripe request' }),
  setting({ variable: 'TALLY_SYNC_MAX_ATTEMPTS', at: 'sync.maxAttempts', kind: int(1, 10_000), default: 100, doc: 'attempts in a row without progress before an outbox row is failed for good' }),
  setting({ variable: 'TALLY_SYNC_LEASE_SECONDS', at: 'sync.leaseSeconds', kind: int(1, 3_600), default: 120, doc: 'how long a sync worker holds a claimed outbox row' }),
  setting({
    variable: 'TALLY_DUNNING_GRACE_DAYS',
    at: 'sync.dunningGraceMs',
    kind: int(0, 3_650),
    default: 0,
    doc: 'days after an unpaid invoice (a failed payment, overdue) before its subscription is past_due',
    then: daysToMs,
    check: (grace, { values }) => (grace > ((values.TALLY_DUNNING_SUSPEND_DAYS as number | undefined) ?? 14) ? 'must not be more than TALLY_DUNNING_SUSPEND_DAYS' : undefined),
  }),
  setting({
    variable: 'TALLY_DUNNING_SUSPEND_DAYS',
    at: 'sync.suspendAfterMs',
    kind: int(0, 3_650),
    default: 14,
    doc: 'days after an unpaid invoice before its subscription is suspended',
    then: daysToMs,
  }),
  setting({
    variable: 'TALLY_DUNNING_CANCEL_DAYS',
    at: 'sync.cancelAfterMs',
    kind: int(0, 3_650),
    unset: 'never canceled',
    doc: 'days after an unpaid invoice before its subscription is canceled',
    then: (days) => (days === undefined ? Infinity : daysToMs(days)),
    check: (cancel, { values }) =>
      cancel !== undefined && cancel < ((values.TALLY_DUNNING_SUSPEND_DAYS as number | undefined) ?? 14) ? 'must not be less than TALLY_DUNNING_SUSPEND_DAYS' : undefined,
  }),
  setting({ variable: 'TALLY_WEBHOOK_INTERVAL_MS', at: 'webhooks.intervalMs', kind: int(100, 3_600_000), default: 1_000, doc: 'pause between outbound-webhook dispatcher runs' }),
  setting({ variable: 'TALLY_WEBHOOK_TIMEOUT_MS', at: 'webhooks.timeoutMs', kind: int(100, 120_000), default: 10_000, doc: 'how long a webhook receiver has to answer one delivery' }),
  setting({ variable: 'TALLY_WEBHOOK_LEASE_SECONDS', at: 'webhooks.leaseSeconds', kind: int(1, 3_600), default: 60, doc: 'how long a dispatcher holds a claimed delivery, at least (never less than the send timeout plus 5 s)' }),
  setting({
    variable: 'TALLY_WEBHOOK_RETENTION_DAYS',
    at: 'webhooks.retentionMs',
    kind: int(0, 3_650),
    default: 30,
    doc: 'days outbound events and their delivery log are kept (0: for ever)',
    then: daysToMs,
  }),
  setting({
    variable: 'TALLY_WEBHOOK_ALLOW_PRIVATE_URLS',
    at: 'webhooks.allowPrivateUrls',
    kind: bool(),
    default: false,
    doc: 'let webhook endpoints be loopback, private or link-local addresses',
  }),
  setting({ variable: 'TALLY_SMTP_URL', at: 'mail.smtpUrl', kind: url(['smtp', 'smtps']), unset: 'email off', doc: 'SMTP server of email to customers, smtp(s)://user:pass@host:port' }),
  setting({
    variable: 'TALLY_MAIL_FROM',
    at: 'mail.from',
    kind: matching(/^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/, 'an email address such as billing@example.com'),
    unset: 'none',
    doc: "address customer email is sent from (shown with the tenant's legal name)",
    check: (from, { values }) => (from === undefined && values.TALLY_SMTP_URL !== undefined ? 'must be set when TALLY_SMTP_URL is: the address customer email is sent from' : undefined),
  }),
  setting({ variable: 'TALLY_MAIL_TIMEOUT_MS', at: 'mail.timeoutMs', kind: int(1_000, 600_000), default: 30_000, doc: 'how long the SMTP server has to take one email' }),
  setting({ variable: 'TALLY_MAIL_INTERVAL_MS', at: 'mail.intervalMs', kind: int(100, 3_600_000), default: 5_000, doc: 'pause between mail loop runs' }),
  setting({ variable: 'TALLY_INGEST_MAX_EVENTS', at: 'ingest.maxEvents', kind: int(1, 1_000_000), default: 10_000, doc: 'events in one POST /v1/events (413 above)' }),
  setting({ variable: 'TALLY_EVENT_MAX_PROPERTIES', at: 'ingest.maxProperties', kind: int(0, 10_000), default: 100, doc: 'properties of one event' }),
  setting({ variable: 'TALLY_EVENT_MAX_PROPERTIES_BYTES', at: 'ingest.maxPropertiesBytes', kind: int(2, MIB), default: 16 * 1024, doc: 'serialised properties of one event' }),
  setting({
    variable: 'TALLY_EVENT_MAX_AGE_SECONDS',
    at: 'ingest.maxAgeSeconds',
    kind: int(0, 10 * 365 * DAY_SECONDS),
    default: 35 * DAY_SECONDS,
    doc: 'oldest event timestamp accepted (35 days)',
  }),
  setting({ variable: 'TALLY_EVENT_MAX_FUTURE_SECONDS', at: 'ingest.maxFutureSeconds', kind: int(0, 7 * DAY_SECONDS), default: 300, doc: 'how far in the future a timestamp may be' }),
  setting({
    variable: 'TALLY_EVENTLOG_MAX_PENDING_BYTES',
    at: 'ingest.maxPendingBytes',
    kind: int(MIB, 1024 * 1024 * MIB),
    default: 1024 * MIB,
    doc: "bytes of acknowledged events in a node's log not shipped to ClickHouse yet (429 above): how long an outage ingest rides out",
  }),
  setting({ variable: 'TALLY_EVENTLOG_SEGMENT_BYTES', at: 'ingest.segmentBytes', kind: int(64 * 1024, 1024 * MIB), default: 64 * MIB, doc: 'a log segment is shipped once its rows take this many bytes...' }),
  setting({ variable: 'TALLY_EVENTLOG_SEAL_MS', at: 'ingest.sealMs', kind: int(1, 60_000), default: 500, doc: '...or this long after its first event (how soon events are visible in usage)' }),
  setting({ variable: 'TALLY_EVENTLOG_DRAIN_MS', at: 'ingest.drainMs', kind: int(0, 3_600_000), default: 20_000, doc: 'on shutdown, how long to wait for the log to ship (the rest ships at the next start)' }),
  setting({ variable: 'TALLY_INGEST_DEDUP_CACHE', at: 'ingest.dedupCache', kind: int(0, 100_000_000), default: 250_000, doc: 'recent event ids remembered to report resends' }),
  setting({ variable: 'TALLY_INGEST_RETRY_AFTER_SECONDS', at: 'ingest.retryAfterSeconds', kind: int(1, 3600), default: 1, doc: 'Retry-After sent with 429 and 503' }),
] as const;
