import { TallyError } from '../core/errors.js';
import { Dec } from '../core/money.js';
import type { CustomerRepository } from '../catalog/customers.js';
import { FEATURE_KEY, type Feature, type PlanRepository } from '../catalog/plans.js';
import type { SubscriptionService, SubscriptionView } from '../catalog/subscriptions.js';
import type { MeterRecord, MeterRepository } from '../metering/meters.js';
import type { UsageQuerier } from '../metering/usage-querier.js';
import type { EntitlementStore, Override } from './store.js';
import { resetWindow } from './windows.js';

/** What a check answers (`GET /v1/customers/:id/entitlements/:feature`). */
export interface Entitlement {
  feature: string;
  type: Feature['type'];
  has_access: boolean;
  /** A static feature's value. */
  value?: string | number;
  /** A metered feature's limit in its window: the plan's (or the override's) plus the active grants. */
  limit?: string;
  /** Whether reaching the limit refuses access (metered). */
  hard?: boolean;
  /** Usage of the feature's meter in the current window (metered). */
  usage?: string;
  remaining?: string;
  /** When the window ends and the usage starts again from 0 (metered). */
  resets_at?: string;
  /** When the answer was worked out: events shipped to the store by then are counted. */
  usage_as_of: string;
}

export interface EntitlementDeps {
  customers: CustomerRepository;
  subscriptions: SubscriptionService;
  plans: PlanRepository;
  meters: MeterRepository;
  usage: UsageQuerier;
  store: EntitlementStore;
  /** The aggregator's watermark: events visible after it less `overlapMs` are read raw. */
  watermark: () => Promise<Date>;
  /** TALLY_AGGREGATOR_OVERLAP_SECONDS, in ms. */
  overlapMs: number;
  /** How long an answer is served from memory (TALLY_ENTITLEMENT_CACHE_MS; 0: never). */
  cacheMs: number;
  /** Epoch ms now: the instant windows, subscriptions and grants are read at (tests move it). */
  clock: () => number;
  /** A monotonic clock in ms for the cache's lifetimes. */
  monotonic?: () => number;
}

/** What every check of one customer reads first: its live subscription, the plan version's features, its overrides and grants. */
interface CustomerContext {
  subscription: SubscriptionView;
  features: Feature[];
  overrides: Map<string, Override>;
  grants: Map<string, string>;
  now: number;
}

/** Entries kept before expired ones are swept (and, if still over, all dropped). */
const MAX_CACHED = 100_000;

/**
 * Entitlement checks. An answer is worked out from the customer's live subscription (the one
 * not canceled that started last), its plan version's features, the customer's overrides and
 * active grants, and for a metered feature the meter's usage in the current window, counted
 * from the rollups and the raw events not rolled up yet. Answers are kept in memory per
 * (tenant, customer, feature) for `cacheMs`, and so is the usage they read (`usageOf`); the
 * customer's details for five times that. A write of an override or
 * grant drops the customer's answers and details on the node that took it.
 */
export class EntitlementService {
  private readonly cache = new Map<string, Map<string, { until: number; answer: Entitlement }>>();
  private cached = 0;
  private readonly monotonic: () => number;
  private readonly usages = new Map<string, { until: number; asOf: number; usage: string }>();
  /** When a metered answer lapses: with the usage it was worked out from. */
  private readonly lapses = new WeakMap<Entitlement, number>();
  private readonly reading = new Map<string, Promise<{ until: number; asOf: number; usage: string }>>();
  private readonly contexts = new Map<string, { until: number; context: CustomerContext | undefined }>();

  constructor(private readonly deps: EntitlementDeps) {
    this.monotonic = deps.monotonic ?? (() => performance.now());
  }

  /** Every feature of the customer's live subscription's plan version (empty without one). */
  async list(tenantId: string, customer: string): Promise<Entitlement[]> {
    const context = await this.context(tenantId, customer);
    if (context === undefined) return [];
    const out: Entitlement[] = [];
    for (const feature of context.features) out.push(this.fresh(tenantId, customer, feature.key) ?? this.remember(tenantId, customer, await this.answer(tenantId, customer, feature, context)));
    return out;
  }

  async check(tenantId: string, customer: string, featureKey: string): Promise<Entitlement> {
    const hit = this.fresh(tenantId, customer, featureKey);
    if (hit !== undefined) return hit;
    if (!FEATURE_KEY.test(featureKey)) throw featureNotFound(featureKey);
    const context = await this.context(tenantId, customer);
    const feature = context?.features.find((f) => f.key === featureKey);
    if (context === undefined || feature === undefined) throw featureNotFound(featureKey, context === undefined);
    return this.remember(tenantId, customer, await this.answer(tenantId, customer, feature, context));
  }

  /** Drops the customer's answers and details held by this node (after a write of its overrides or grants). */
  forget(tenantId: string, customer: string): void {
    const key = `${tenantId}\n${customer}`;
    this.cached -= this.cache.get(key)?.size ?? 0;
    this.cache.delete(key);
    this.contexts.delete(key);
  }

  /**
   * A customer's usage of a meter in a window (live-usage.ts), kept for `cacheMs`; checks of the
   * same customer, meter and window arriving while it is being read wait for that one read.
   */
  private async usageOf(meter: MeterRecord, customer: string, from: number, to: number): Promise<{ usage: string; asOf: number; until: number }> {
    const key = `${meter.tenant_id}\n${meter.key}\n${customer}\n${from}\n${to}`;
    const kept = this.usages.get(key);
    if (kept !== undefined && kept.until > this.monotonic()) return kept;
    let read = this.reading.get(key);
    if (read === undefined) {
      read = (async () => {
        // Taken before the read: every event shipped by then is counted, and the usage lapses
        // `cacheMs` after it, however long the read took.
        const asOf = this.deps.clock();
        const started = this.monotonic();
        const watermark = await this.deps.watermark();
        const usage = await this.deps.usage.liveTotal(meter, customer, new Date(from), new Date(to), new Date(watermark.getTime() - this.deps.overlapMs));
        const done = { until: started + this.deps.cacheMs, asOf, usage };
        if (this.deps.cacheMs > 0) {
          if (this.usages.size >= MAX_CACHED) this.usages.clear();
          this.usages.set(key, done);
        }
        return done;
      })().finally(() => this.reading.delete(key));
      this.reading.set(key, read);
    }
    return read;
  }

  private fresh(tenantId: string, customer: string, feature: string): Entitlement | undefined {
    const entry = this.cache.get(`${tenantId}\n${customer}`)?.get(feature);
    return entry !== undefined && entry.until > this.monotonic() ? entry.answer : undefined;
  }

  private remember(tenantId: string, customer: string, answer: Entitlement): Entitlement {
    if (this.deps.cacheMs <= 0) return answer;
    const now = this.monotonic();
    if (this.cached >= MAX_CACHED) this.sweep(now);
    const key = `${tenantId}\n${customer}`;
    let features = this.cache.get(key);
    if (features === undefined) {
      features = new Map<string, { until: number; answer: Entitlement }>();
      this.cache.set(key, features);
    }
    if (!features.has(answer.feature)) this.cached++;
    // A metered answer lapses with the usage it read (kept from when that read began), so it is
    // never older than `cacheMs`, however long the read took.
    features.set(answer.feature, { until: this.lapses.get(answer) ?? now + this.deps.cacheMs, answer });
    return answer;
  }

  private sweep(now: number): void {
    for (const [key, features] of this.cache) {
      for (const [feature, entry] of features) {
        if (entry.until <= now) {
          features.delete(feature);
          this.cached--;
        }
      }
      if (features.size === 0) this.cache.delete(key);
    }
    if (this.cached >= MAX_CACHED) {
      this.cache.clear();
      this.cached = 0;
    }
  }

  /**
   * The customer's details, kept for five times `cacheMs`: a change of subscription or plan
   * made through another node is seen within that (overrides and grants written through this
   * node drop them at once). Only `now` is taken afresh.
   */
  private async context(tenantId: string, customer: string): Promise<CustomerContext | undefined> {
    const key = `${tenantId}\n${customer}`;
    const kept = this.contexts.get(key);
    if (kept !== undefined && kept.until > this.monotonic()) return kept.context === undefined ? undefined : { ...kept.context, now: this.deps.clock() };
    const context = await this.readContext(tenantId, customer);
    if (this.deps.cacheMs > 0) {
      if (this.contexts.size >= MAX_CACHED) this.contexts.clear();
      this.contexts.set(key, { until: this.monotonic() + 5 * this.deps.cacheMs, context });
    }
    return context;
  }

  private async readContext(tenantId: string, customer: string): Promise<CustomerContext | undefined> {
    const now = this.deps.clock();
    if ((await this.deps.customers.get(tenantId, customer)) === undefined) {
      throw new TallyError('TALLY_ERR_NOT_FOUND', `no customer ${JSON.stringify(customer)}`, { field: 'id' });
    }
    const subscription = await this.liveSubscription(tenantId, customer, now);
    if (subscription === undefined) return undefined;
    const plan = await this.deps.plans.get(tenantId, subscription.plan.code, subscription.plan.version);
    if (plan === undefined) return undefined;
    const [overrides, grants] = await Promise.all([this.deps.store.overrides(tenantId, customer), this.deps.store.activeGrants(tenantId, customer, new Date(now))]);
    return { subscription, features: plan.features, overrides, grants, now };
  }

  /** The subscription in force: started, not canceled, the one that started last. */
  private async liveSubscription(tenantId: string, customer: string, now: number): Promise<SubscriptionView | undefined> {
    let live: SubscriptionView | undefined;
    let after: string | undefined;
    for (;;) {
      const page = await this.deps.subscriptions.list(tenantId, customer, 100, after, new Date(now));
      for (const s of page.data) {
        if (s.status === 'canceled' || Date.parse(s.start_date) > now) continue;
        if (live === undefined || Date.parse(s.start_date) > Date.parse(live.start_date)) live = s;
      }
      if (!page.has_more || page.data.length === 0) return live;
      after = page.data[page.data.length - 1]!.id;
    }
  }

  private async answer(tenantId: string, customer: string, feature: Feature, c: CustomerContext): Promise<Entitlement> {
    const override = c.overrides.get(feature.key);
    // A suspended subscription (unpaid past the dunning policy's grace) has nothing.
    const suspended = c.subscription.status === 'suspended';
    const decided = suspended ? false : (override?.has_access ?? undefined);
    const asOf = new Date(c.now).toISOString();
    switch (feature.type) {
      case 'boolean':
        return { feature: feature.key, type: feature.type, has_access: decided ?? true, usage_as_of: asOf };
      case 'static':
        return { feature: feature.key, type: feature.type, has_access: decided ?? true, value: override?.value ?? feature.value, usage_as_of: asOf };
      case 'metered': {
        const meter = await this.deps.meters.record(tenantId, feature.meter);
        if (meter === undefined) throw new Error(`meter ${feature.meter} of feature ${feature.key} is gone`);
        const period = { start: Date.parse(c.subscription.current_period.start), end: Date.parse(c.subscription.current_period.end) };
        const window = resetWindow(feature.reset, period, c.now);
        const read = await this.usageOf(meter, customer, window.start, window.end);
        const usage = new Dec(read.usage);
        const limit = new Dec(override?.limit ?? feature.limit).plus(c.grants.get(feature.key) ?? '0');
        const remaining = Dec.max(limit.minus(usage), 0);
        const answer: Entitlement = {
          feature: feature.key,
          type: feature.type,
          has_access: decided ?? (!feature.hard || usage.lt(limit)),
          limit: limit.toFixed(),
          hard: feature.hard,
          usage: usage.toFixed(),
          remaining: remaining.toFixed(),
          resets_at: new Date(window.end).toISOString(),
          usage_as_of: new Date(read.asOf).toISOString(),
        };
        this.lapses.set(answer, read.until);
        return answer;
      }
    }
  }
}

function featureNotFound(feature: string, noSubscription = false): TallyError {
  return new TallyError(
    'TALLY_ERR_FEATURE_NOT_FOUND',
    noSubscription ? `the customer has no live subscription, so no feature ${JSON.stringify(feature)}` : `the customer's plan has no feature ${JSON.stringify(feature)}`,
    { field: 'feature' },
  );
}
