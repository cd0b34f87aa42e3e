import path from 'node:path';
import type { Registry } from 'prom-client';
import type { Config } from '../core/config.js';
import type { Stores } from '../core/stores.js';
import type { Logger } from '../core/log.js';
import { createAuthenticator, type Authenticator } from '../core/auth.js';
import { httpMetrics } from '../core/metrics.js';
import { pgTenantRepository } from '../core/tenants.js';
import { createHttpServer, type HttpServer } from '../http/server.js';
import { tenantOf, type Route } from '../http/types.js';
import { healthRoutes } from '../http/health.js';
import { tenantRoutes } from '../tenants/routes.js';
import { meterRoutes } from '../metering/meter-routes.js';
import { customerRoutes } from '../catalog/customer-routes.js';
import { pgCustomerRepository } from '../catalog/customers.js';
import { creditRoutes } from '../catalog/credit-routes.js';
import { CreditService } from '../catalog/credits.js';
import { couponRoutes } from '../catalog/coupon-routes.js';
import { CouponService } from '../catalog/coupons.js';
import { taxRateRoutes } from '../catalog/tax-rate-routes.js';
import { TaxRateService } from '../catalog/tax-rates.js';
import { volumeDiscountRoutes } from '../catalog/volume-discount-routes.js';
import { analyticsRoutes } from '../analytics/routes.js';
import { webhookRoutes } from '../webhooks/routes.js';
import { alertRoutes } from '../alerts/routes.js';
import { AlertService } from '../alerts/settings.js';
import { EndpointService } from '../webhooks/endpoints.js';
import { EventLog } from '../webhooks/log.js';
import { chargeEvents, creditNoteEvents, invoiceChangeEvents, subscriptionEvents } from '../webhooks/payloads.js';
import { VolumeDiscountService } from '../catalog/volume-discounts.js';
import { commitmentRoutes } from '../catalog/commitment-routes.js';
import { CommitmentService } from '../catalog/commitments.js';
import { planRoutes } from '../catalog/plan-routes.js';
import { pgPlanRepository } from '../catalog/plans.js';
import { subscriptionRoutes } from '../catalog/subscription-routes.js';
import { SubscriptionService } from '../catalog/subscriptions.js';
import { pgMeterRepository } from '../metering/meters.js';
import { clickhouseMemoryGauges } from '../core/clickhouse-memory.js';
import { diskSpaceCheck, diskSpaceGauges } from '../core/disk-space.js';
import { aggregatorLagGauge, metersSetAside, readMeterWatermark, readWatermark, setAsideGauges } from '../metering/aggregator-state.js';
import { usageRoute } from '../metering/usage-route.js';
import { clickhouseUsageQuerier } from '../metering/usage-querier.js';
import { entitlementRoutes } from '../entitlements/routes.js';
import { pgEntitlementStore } from '../entitlements/store.js';
import { RecentIds } from '../ingest/dedup.js';
import { IngestLog } from '../ingest/event-log.js';
import type { LogIo } from '../ingest/log-io.js';
import { eventLogMetrics, ingestMetrics } from '../ingest/metrics.js';
import { eventsRoute } from '../ingest/route.js';
import { IngestService } from '../ingest/service.js';
import { LiveFeed } from '../ingest/live.js';
import { liveEventsRoute } from '../ingest/live-route.js';
import { Shipper } from '../ingest/shipper.js';
import { clickHouseSink, type SegmentSink } from '../ingest/sink.js';
import { createRatingStack, type RatingStack } from './rating-stack.js';
import { billingRoutes } from '../invoicing/routes.js';
import { entitlementChecks } from './entitlements.js';
import { consoleRoutes } from './console.js';
import { pipelineRoute } from './pipeline.js';
import { balanceRoutes } from '../invoicing/balance-routes.js';
import { balanceAlertRoutes } from '../alerts/balance-routes.js';
import { BalanceAlertService } from '../alerts/balance.js';
import { InvoiceRepository } from '../invoicing/invoice-reads.js';
import { syncMetrics, type SyncMetrics } from '../stripe/metrics.js';
import { webhookRoute } from '../stripe/inbound-webhooks.js';
import { paymentMethodLinkRoute } from '../stripe/payment-method-link.js';
import { billingProfileRoutes } from '../invoicing/profile-routes.js';
import { documentRoutes } from '../documents/routes.js';
import { InvoiceDocuments } from '../documents/render.js';
import { measured, pdfWorkerPool } from '../documents/pdf-pool.js';
import { PdfTurns } from '../documents/pdf-turns.js';
import { InvoiceLinks } from '../documents/links.js';
import { invoiceLinkRoutes } from '../documents/link-routes.js';
import { hostedInvoiceRoutes } from '../documents/hosted-routes.js';
import { invoiceActionRoutes } from '../invoicing/action-routes.js';
import { InvoiceActions } from '../invoicing/invoice-actions.js';
import { enqueueCreditNote, reopenInvoiceRow, tenantOutboxStats } from '../stripe/outbox.js';
import { CreditNotes } from '../invoicing/credit-notes.js';
import { chargeRoutes } from '../invoicing/charge-routes.js';
import { OneOffCharges } from '../catalog/one-off-charges.js';
import { settleDunning } from '../stripe/dunning.js';
import { BillingProfileService } from '../invoicing/billing-profile.js';
import { dunningPolicyOf } from './sync-loop.js';
import { mailHooks } from './mail.js';
import { stripeGateway, type StripeGateway } from '../stripe/gateway.js';
import { openApiRoute } from '../http/openapi-route.js';
import { CATALOGUE } from './openapi-catalog.js';
import { idempotencyKeys } from '../http/idempotency.js';
import { pgIdempotencyStore } from '../http/idempotency-store.js';

export interface ApiDeps {
  config: Config;
  stores: Stores;
  logger: Logger;
  registry: Registry;
  adminKey: string | undefined;
  /** Rating and billing (upcoming invoices); made here, with its own worker pool, when not given. */
  rating?: RatingStack;
  /** Billing-sync metrics, when a sync loop in the same process shares them. */
  syncMetrics?: SyncMetrics;
  /** Where the event log's segments are shipped; ClickHouse's raw table unless given. */
  sink?: SegmentSink;
  /** The event log's file operations; the node's own unless given. */
  logIo?: LogIo;
  /** Epoch milliseconds now, for subscriptions, invoices and Stripe webhooks (tests move it). */
  clock?: () => number;
}

/** The API's routes and what they hold open, ready to be served (`serveApi`). */
export interface ApiRoutes {
  readonly routes: readonly Route[];
  readonly authenticator: Authenticator;
  /** The server that serves them, so that readiness reports its draining. */
  servedBy(server: HttpServer): void;
  /**
   * Ships everything acknowledged so far into the event store; false if that takes longer than
   * `timeoutMs` (the rest stays in the log).
   */
  drainEventLog(timeoutMs?: number): Promise<boolean>;
  /** Closes the event log, ships what it can within TALLY_EVENTLOG_DRAIN_MS, and stops what was made here. */
  close(): Promise<void>;
}

export type Api = HttpServer & { readonly routes: readonly Route[]; drainEventLog: ApiRoutes['drainEventLog'] };

/** Wires the HTTP API: the one place that knows which routes exist and what they depend on. */
export function createApi(deps: ApiDeps): Api {
  const api = apiRoutes(deps);
  return serveApi(deps, api, api.routes);
}

/** Every route of the API, with the stores, services and event log behind them. */
export function apiRoutes(deps: ApiDeps): ApiRoutes {
  const { config, stores } = deps;
  const tenants = pgTenantRepository(stores.postgres);
  const authenticator = createAuthenticator({ adminKey: deps.adminKey, tenants, cacheSeconds: config.auth.cacheSeconds });
  const timeout = config.http.healthTimeoutMs;

  const meters = pgMeterRepository(stores.postgres);
  aggregatorLagGauge(deps.registry, stores.postgres);
  setAsideGauges(deps.registry, stores.postgres);
  clickhouseMemoryGauges(deps.registry, stores.clickhouse);
  diskSpaceGauges(deps.registry, config.dataDir);
  const im = ingestMetrics(deps.registry);
  // This node's event log of accepted events and the shipper that moves it into ClickHouse.
  const logDir = path.join(config.dataDir, 'eventlog');
  const lm = eventLogMetrics(deps.registry);
  const eventLog = IngestLog.open({
    dir: logDir,
    segmentBytes: config.ingest.segmentBytes,
    sealMs: config.ingest.sealMs,
    maxPendingBytes: config.ingest.maxPendingBytes,
    retryAfterSeconds: config.ingest.retryAfterSeconds,
    metrics: lm,
    logger: deps.logger,
    ...(deps.logIo === undefined ? {} : { io: deps.logIo }),
  });
  const shipper = new Shipper({ log: eventLog, sink: deps.sink ?? clickHouseSink(stores.clickhouse), metrics: lm, logger: deps.logger, refusedDir: path.join(logDir, 'refused') });
  shipper.start();
  // What the console's live view shows: this node's last minute of ingest, per tenant.
  const live = new LiveFeed(eventLog.nodeId);
  const ingest = new IngestService(eventLog, new RecentIds(config.ingest.dedupCache), config.ingest, im, Date.now, live);
  let server: HttpServer | undefined;

  const rating = deps.rating ?? createRatingStack(config, stores, deps.registry);
  const stripeMetrics = deps.syncMetrics ?? syncMetrics(deps.registry);
  const clock = deps.clock ?? Date.now;
  const dunning = dunningPolicyOf(config);
  // Links to hosted invoice pages, made by the tenant and opened by customers without a key.
  // Invoice documents, drawn on a worker thread so that drawing never stalls ingest.
  const pdfs = measured(pdfWorkerPool({ onWorkerError: (error) => deps.logger.error({ err: error }, 'PDF worker failed') }), deps.registry);
  const documents = new InvoiceDocuments(stores.postgres, new PdfTurns(pdfs));
  const links = new InvoiceLinks(stores.postgres, { publicUrl: config.documents.publicUrl, days: config.documents.linkDays, clock });
  // Customer email (when TALLY_SMTP_URL is set): approved drafts, credit notes, failed payments.
  const mail = mailHooks(config, deps.registry, deps.logger);
  const customers = pgCustomerRepository(stores.postgres);
  const credits = new CreditService(stores.postgres);
  const plans = pgPlanRepository(stores.postgres);
  const subscriptions = new SubscriptionService(stores.postgres, dunning, subscriptionEvents);
  const usage = clickhouseUsageQuerier(stores.clickhouse);
  const watermark = () => readWatermark(stores.postgres);
  const meterWatermark = (tenantId: string, meterKey: string) => readMeterWatermark(stores.postgres, tenantId, meterKey);
  const webhookLog = new EventLog(stores.postgres);
  // Entitlement checks, answered from this node's memory, refreshed in the background.
  const entitlementStore = pgEntitlementStore(stores.postgres);
  const entitlementChecking = entitlementChecks({
    customers,
    subscriptions,
    plans,
    meters,
    usage,
    store: entitlementStore,
    watermark: meterWatermark,
    overlapMs: config.aggregator.overlapMs,
    cacheMs: config.entitlements.cacheMs,
    clock,
    pg: stores.postgres,
    registry: deps.registry,
    logger: deps.logger,
  });
  const entitlements = entitlementChecking.service;
  const forgetCustomer = (tenantId: string, customer: string) => entitlements.forget(tenantId, customer);
  const routes: Route[] = [
    ...healthRoutes({
      registry: deps.registry,
      checks: {
        postgres: () => stores.postgres.ping(timeout),
        eventlog: () => (eventLog.failing ? Promise.reject(new Error("writes to this node's event log are failing")) : Promise.resolve()),
      },
      // Ingest accepts into the log while ClickHouse is down; usage reads wait for it.
      degradedBy: {
        clickhouse: () => stores.clickhouse.ping(timeout),
        shipping: () => (shipper.isDown ? Promise.reject(new Error('segments do not ship to ClickHouse; the log holds them')) : Promise.resolve()),
        disk: diskSpaceCheck(config.dataDir, config.diskMinFreeBytes, timeout),
      },
      isShuttingDown: () => server?.shuttingDown ?? false,
    }),
    ...tenantRoutes(tenants, authenticator),
    eventsRoute(ingest, config.ingest, im),
    liveEventsRoute(live),
    ...meterRoutes(meters),
    // A customer's time zone changed, or the customer deleted, through this node shows in its entitlement answers at once.
    ...customerRoutes(customers).map((route) => forgetOnWrite(route, (body) => (body as { id?: unknown } | undefined)?.id, forgetCustomer)),
    ...creditRoutes(credits),
    ...couponRoutes(new CouponService(stores.postgres)),
    ...taxRateRoutes(new TaxRateService(stores.postgres)),
    ...volumeDiscountRoutes(new VolumeDiscountService(stores.postgres)),
    ...analyticsRoutes(stores.postgres),
    ...webhookRoutes(new EndpointService(stores.postgres, config.webhooks.allowPrivateUrls), webhookLog),
    ...alertRoutes(new AlertService(stores.postgres)),
    ...balanceAlertRoutes(new BalanceAlertService(stores.postgres)),
    ...commitmentRoutes(new CommitmentService(stores.postgres)),
    ...planRoutes(plans, meters),
    // A subscription written through this node shows in its entitlement answers at once.
    ...subscriptionRoutes(subscriptions, clock).map((route) => forgetOnWrite(route, (body) => (body as { customer?: unknown } | undefined)?.customer, forgetCustomer)),
    ...entitlementRoutes({ service: entitlements, store: entitlementStore, customers, clock }),
    usageRoute({ usage, ch: stores.clickhouse, meters, watermark: meterWatermark }),
    ...billingRoutes(rating.billing, new InvoiceRepository(stores.postgres, clock), clock),
    ...balanceRoutes({ pg: stores.postgres, credits, upcoming: (tenantId, ids, now) => rating.billing.upcomingMany(tenantId, ids, now), clock }),
    ...billingProfileRoutes(new BillingProfileService(stores.postgres)),
    ...documentRoutes(documents, stores.postgres),
    ...invoiceLinkRoutes(links),
    ...hostedInvoiceRoutes({ links, documents, pg: stores.postgres, publicUrl: config.documents.publicUrl }),
    ...chargeRoutes(new OneOffCharges(stores.postgres, chargeEvents), rating.billing, clock),
    ...invoiceActionRoutes(
      new InvoiceActions(stores.postgres, [
        // Side effects of a finance action, in its transaction: Stripe mirrors it, a webhook announces it, dunning settles.
        reopenInvoiceRow,
        invoiceChangeEvents,
        (tx, change) => settleDunning(tx, change.tenantId, change.subscriptionId, dunning, change.at).then(() => undefined),
        ...mail.invoiceChange,
      ]),
      new CreditNotes(stores.postgres, [
        enqueueCreditNote,
        creditNoteEvents,
        (tx, issued) => (issued.settledInvoice ? settleDunning(tx, issued.tenantId, issued.subscriptionId, dunning, issued.at).then(() => undefined) : Promise.resolve()),
        ...mail.creditNote,
      ]),
      new InvoiceRepository(stores.postgres, clock),
      clock,
    ),
    paymentMethodLinkRoute({ pg: stores.postgres, gateway: apiGateway(config, stripeMetrics), logger: deps.logger }),
    webhookRoute({ pg: stores.postgres, secret: config.stripe.webhookSecret, metrics: stripeMetrics, logger: deps.logger, dunning, clock, invoiceHooks: mail.stripeInvoice }),
    pipelineRoute({
      watermark,
      setAside: (tenantId) => metersSetAside(stores.postgres, tenantId),
      eventLog,
      outbox: (tenantId) => tenantOutboxStats(stores.postgres, tenantId),
      deliveries: (tenantId) => webhookLog.deliveryStats(tenantId),
      clock,
    }),
    ...consoleRoutes(),
    // Documents this table as it ends up, itself included.
    openApiRoute(() => routes, CATALOGUE),
  ];
  return {
    routes,
    authenticator,
    servedBy: (s) => {
      server = s;
    },
    drainEventLog: (timeoutMs) => shipper.drain(timeoutMs),
    close: async () => {
      await eventLog.close();
      if (!(await shipper.drain(config.ingest.drainMs))) {
        deps.logger.warn({ pendingBytes: eventLog.pendingBytes }, 'event log: not everything shipped before shutdown; the rest ships at the next start');
      }
      await shipper.stop();
      await entitlementChecking.stop();
      if (deps.rating === undefined) await rating.pool.close();
      await pdfs.close();
    },
  };
}

/** `route`, calling `forget` with the customer `customerOf` finds in its answer after each write it made. */
function forgetOnWrite(route: Route, customerOf: (body: unknown) => unknown, forget: (tenantId: string, customer: string) => void): Route {
  if (route.method === 'GET') return route;
  return {
    ...route,
    handler: async (req) => {
      const reply = await route.handler(req);
      const customer = customerOf(reply.body);
      if (reply.status < 300 && typeof customer === 'string') forget(tenantOf(req), customer);
      return reply;
    },
  };
}

/** Serves `routes` (the API's, and any others beside them) on the configured port. */
export function serveApi(deps: ApiDeps, api: ApiRoutes, routes: readonly Route[]): Api {
  const { config, stores } = deps;
  // Idempotency-Key on tenant writes: a wrapper around each handler that takes one.
  const idempotency = idempotencyKeys({ store: pgIdempotencyStore(stores.postgres), logger: deps.logger });
  const http: HttpServer = createHttpServer({
    host: config.host,
    port: config.port,
    maxBodyBytes: config.http.maxBodyBytes,
    maxPendingResponseBytes: config.http.maxPendingResponseBytes,
    shutdownTimeoutMs: config.http.shutdownTimeoutMs,
    authenticator: api.authenticator,
    adminEnabled: deps.adminKey !== undefined,
    metrics: httpMetrics(deps.registry),
    logger: deps.logger,
    routes: routes.map((route) => idempotency.wrap(route)),
  });
  const server: Api = {
    routes,
    drainEventLog: (timeoutMs) => api.drainEventLog(timeoutMs),
    listen: () => http.listen(),
    // HTTP first (in-flight requests are waiting on their log appends), then whatever is left.
    stop: async () => {
      await http.stop();
      await api.close();
    },
    get shuttingDown() {
      return http.shuttingDown;
    },
    get inFlight() {
      return http.inFlight;
    },
  };
  api.servedBy(server);
  return server;
}

/** The Stripe client of API requests that call Stripe (payment-method links), when a key is set. */
function apiGateway(config: Config, metrics: SyncMetrics): StripeGateway | undefined {
  const secretKey = config.stripe.secretKey;
  if (secretKey === undefined) return undefined;
  return stripeGateway({ secretKey, apiBase: config.stripe.apiBase, timeoutMs: config.sync.timeoutMs, observe: (endpoint, result) => metrics.requests.inc({ endpoint, result }) });
}
