import { TallyError } from '../core/errors.js';
import { Dec } from '../core/money.js';
import type { CustomerRepository } from '../catalog/customers.js';
import { FEATURE_KEY, type Feature, type PlanRepository } from '../catalog/plans.js';
import type { LiveSubscription, SubscriptionService } from '../catalog/subscriptions.js';
import type { LiveWindow } from '../metering/live-usage.js';
import type { MeterRecord, MeterRepository } from '../metering/meters.js';
import type { UsageQuerier } from '../metering/usage-querier.js';
import type { ActiveGrants, EntitlementStore, Override } from './store.js';
import { windowEvents, type WindowEvent } from './window-events.js';
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
  /** When the answer's usage was read: events shipped to the store by then are counted. */
  usage_as_of: string;
}

export interface EntitlementDeps {
  customers: CustomerRepository;
  subscriptions: Pick<SubscriptionService, 'liveByCustomer'>;
  plans: PlanRepository;
  meters: MeterRepository;
  usage: UsageQuerier;
  store: EntitlementStore;
  /** The meter's watermark (metering's readMeterWatermark): events visible after it less `overlapMs` are read raw. */
  watermark: (tenantId: string, meterKey: string) => Promise<Date>;
  /** TALLY_AGGREGATOR_OVERLAP_SECONDS, in ms. */
  overlapMs: number;
  /** How often a checked tenant's usage is read again (TALLY_ENTITLEMENT_CACHE_MS; 0: every check reads the stores). */
  cacheMs: number;
  /** Epoch ms now: the instant windows, subscriptions and grants are read at (tests move it). */
  clock: () => number;
  /** A monotonic clock in ms for refresh times. */
  monotonic?: () => number;
  /** How long `refreshDue` waits for one tenant's read before going on without it (5 s). */
  refreshBudgetMs?: number;
  /** Handed the limits reached and windows begun that each refresh finds (each is recorded once per window). */
  onWindowEvents?: (tenantId: string, events: readonly WindowEvent[]) => Promise<void>;
  /** A refresh of one tenant failed (its previous figures keep serving); counted and logged by the caller. */
  onRefreshFailed?: (tenantId: string, error: unknown) => void;
  /** Recording a refresh's window events failed (the figures stay; tried again at the next read). */
  onEventsFailed?: (tenantId: string, error: unknown) => void;
  /** Each refresh of a tenant: its duration in seconds. */
  onRefreshed?: (seconds: number) => void;
}

/** What every check of one customer reads: its live subscription, the plan version's features, its overrides and grants. */
interface CustomerContext {
  subscription: LiveSubscription;
  /** Where its daily, weekly and monthly windows begin (null: UTC). */
  timeZone: string | null;
  features: Feature[];
  overrides: Map<string, Override>;
  grants: ActiveGrants;
}

/** One tenant as this node holds it (see EntitlementService). */
interface TenantView {
  loaded: boolean;
  /** Customers with a live subscription. */
  contexts: Map<string, CustomerContext>;
  /** Customers without one. */
  idle: Set<string>;
  /** Read every context again at (monotonic). */
  contextsUntil: number;
  /** Usage per meter, customer and window (`usageKey`). */
  usage: Map<string, string>;
  usageAsOf: number;
  /** Answers worked out since the last refresh, with the clock time they hold until. */
  answers: Map<string, { answer: Entitlement; until: number }>;
  /** Customers whose overrides or grants were written through this node, with when (monotonic): answered from the stores until a refresh begun after that. */
  forgotten: Map<string, number>;
  lastCheck: number;
  nextAt: number;
  refreshing: Promise<void> | undefined;
  /** Window events already recorded, by key. */
  fired: Set<string>;
}

/** A tenant not checked for this long is dropped from memory (monotonic ms). */
const IDLE_MS = 10 * 60_000;
/** How often a tenant held only for its window events (not checked lately) is refreshed. */
const COLD_MS = 30_000;
/** Tenants read at once by `refreshDue`. */
const REFRESH_CONCURRENCY = 4;
/** How long `refreshDue` waits for one tenant before it goes on without it (the read goes on). */
const REFRESH_BUDGET_MS = 5_000;
/** Contexts (subscriptions, plans, overrides, grants) are read again after this many usage refreshes' time. */
const CONTEXT_FACTOR = 5;

const usageKey = (meter: string, customer: string, w: { start: number; end: number }): string => `${meter}\n${customer}\n${w.start}\n${w.end}`;

/**
 * Entitlement checks, answered from memory. For each tenant checked on this node (and each
 * watched for its window events), the node holds its customers' live subscriptions, their plan
 * versions' features, overrides, active grants and time zones (read again every 5 × `cacheMs`),
 * and the usage of every metered feature's current window for all of its customers, read in one
 * query per meter every `cacheMs` by `refreshDue` (a background loop). A check is then worked
 * out from memory; `usage_as_of` says when the usage it shows was read. Several nodes agree
 * because each reads the same stores, within that freshness.
 *
 * The stores are read for a check only when memory cannot answer it: a customer created since
 * the last read; one written through this node (`forget`) or whose period ended or grant expired
 * since then, until the next refresh has read that customer again; and every check when
 * `cacheMs` is 0. A window that has rolled over since the last refresh waits for a refresh
 * rather than answer from the old window.
 */
export class EntitlementService {
  private readonly views = new Map<string, TenantView>();
  private readonly monotonic: () => number;

  constructor(private readonly deps: EntitlementDeps) {
    this.monotonic = deps.monotonic ?? (() => performance.now());
  }

  /** Every feature of the customer's live subscription's plan version (empty without one). */
  async list(tenantId: string, customer: string): Promise<Entitlement[]> {
    const view = await this.viewOf(tenantId);
    for (let attempt = 0; view !== undefined && attempt < 2; attempt++) {
      if (view.forgotten.has(customer)) break;
      if (view.idle.has(customer)) return [];
      const context = view.contexts.get(customer);
      if (context === undefined) break;
      const out = context.features.map((f) => this.fromMemory(view, customer, context, f));
      if (out.includes('gone')) break;
      if (!out.includes('stale')) return out as Entitlement[];
      if (!(await this.refreshed(tenantId, view))) break;
    }
    return this.listDirect(tenantId, customer);
  }

  async check(tenantId: string, customer: string, featureKey: string): Promise<Entitlement> {
    if (!FEATURE_KEY.test(featureKey)) throw featureNotFound(featureKey);
    const view = await this.viewOf(tenantId);
    for (let attempt = 0; view !== undefined && attempt < 2; attempt++) {
      if (view.forgotten.has(customer)) break;
      if (view.idle.has(customer)) throw featureNotFound(featureKey, true);
      const context = view.contexts.get(customer);
      if (context === undefined) break;
      const feature = context.features.find((f) => f.key === featureKey);
      if (feature === undefined) throw featureNotFound(featureKey);
      const answer = this.fromMemory(view, customer, context, feature);
      if (answer === 'gone') break;
      if (answer !== 'stale') return answer;
      if (!(await this.refreshed(tenantId, view))) break;
    }
    return this.checkDirect(tenantId, customer, featureKey);
  }

  /**
   * Answers the customer from the stores until a refresh begun after now has read it again
   * (after a write of its subscription, overrides, grants or details through this node).
   */
  forget(tenantId: string, customer: string): void {
    const view = this.views.get(tenantId);
    if (view === undefined) return;
    view.forgotten.set(customer, this.monotonic());
    for (const key of view.answers.keys()) if (key.startsWith(`${customer}\n`)) view.answers.delete(key);
  }

  /**
   * Refreshes the tenants due (checked ones every `cacheMs`, the others registered with `watch`
   * every 30 s), at most REFRESH_CONCURRENCY at a time. A tenant that fails keeps its previous
   * figures, is reported through `onRefreshFailed` and tried again at its next turn; one that is
   * slow holds only its own slot: this waits for it at most REFRESH_BUDGET_MS (it goes on in the
   * background and is not started again while it runs), so other tenants keep their turns.
   * Drops tenants not checked for 10 minutes (unless watched). Returns how many were refreshed.
   */
  async refreshDue(watched: ReadonlySet<string> = new Set()): Promise<number> {
    const now = this.monotonic();
    for (const tenantId of watched) if (!this.views.has(tenantId)) this.views.set(tenantId, newView(now - IDLE_MS));
    const due: [string, TenantView][] = [];
    for (const [tenantId, view] of [...this.views]) {
      const hot = now - view.lastCheck < IDLE_MS;
      if (!hot && !watched.has(tenantId)) {
        this.views.delete(tenantId);
        continue;
      }
      if (view.nextAt <= now && view.refreshing === undefined) due.push([tenantId, view]);
    }
    let refreshed = 0;
    let next = 0;
    const slot = async (): Promise<void> => {
      while (next < due.length) {
        const [tenantId, view] = due[next++]!;
        try {
          if (await this.withinBudget(this.refresh(tenantId, view))) refreshed++;
        } catch (e) {
          view.nextAt = this.monotonic() + (this.monotonic() - view.lastCheck < IDLE_MS ? this.deps.cacheMs : COLD_MS);
          this.deps.onRefreshFailed?.(tenantId, e);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(REFRESH_CONCURRENCY, due.length) }, slot));
    return refreshed;
  }

  /** The tenant's view, loaded (the first check of a tenant waits for its first read); undefined when nothing is kept (`cacheMs` 0). */
  private async viewOf(tenantId: string): Promise<TenantView | undefined> {
    if (this.deps.cacheMs <= 0) return undefined;
    let view = this.views.get(tenantId);
    if (view === undefined) {
      view = newView(this.monotonic());
      this.views.set(tenantId, view);
    }
    view.lastCheck = this.monotonic();
    if (!view.loaded && !(await this.refreshed(tenantId, view))) return undefined;
    return view;
  }

  /** A refresh a check waits for; false when it failed or took too long (the check then reads the stores; the loop reports a failure at its turn). */
  private async refreshed(tenantId: string, view: TenantView): Promise<boolean> {
    try {
      return await this.withinBudget(this.refresh(tenantId, view));
    } catch {
      return false;
    }
  }

  /** Whether `read` ended within the refresh budget (false: it goes on, unwaited for); throws what it throws. */
  private async withinBudget(read: Promise<void>): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), this.deps.refreshBudgetMs ?? REFRESH_BUDGET_MS)));
    try {
      return await Promise.race([read.then(() => true), budget]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** One refresh of a tenant at a time; a check arriving meanwhile waits for it. */
  private refresh(tenantId: string, view: TenantView): Promise<void> {
    view.refreshing ??= this.read(tenantId, view).finally(() => (view.refreshing = undefined));
    return view.refreshing;
  }

  private async read(tenantId: string, view: TenantView): Promise<void> {
    const began = this.monotonic();
    const now = this.deps.clock();
    // Customers written through this node, or whose period ended or grant expired, before this read began.
    const stale = [...view.forgotten].filter(([, at]) => at < began).map(([customer]) => customer);
    if (!view.loaded || began >= view.contextsUntil) {
      const { contexts, idle } = await this.readContexts(tenantId, undefined, now);
      view.contexts = contexts;
      view.idle = idle;
      view.contextsUntil = began + CONTEXT_FACTOR * this.deps.cacheMs;
    } else {
      for (const customer of stale) await this.readOne(tenantId, view, customer, now);
    }
    // The windows of every metered feature now, per meter; one read per meter for all of them.
    const byMeter = new Map<string, LiveWindow[]>();
    const seen = new Set<string>();
    for (const [customer, c] of view.contexts) {
      for (const f of c.features) {
        if (f.type !== 'metered') continue;
        const w = windowOf(f, c, now);
        const key = usageKey(f.meter, customer, w);
        if (seen.has(key)) continue;
        seen.add(key);
        let list = byMeter.get(f.meter);
        if (list === undefined) byMeter.set(f.meter, (list = []));
        list.push({ customer, from: w.start, to: w.end });
      }
    }
    const usage = new Map<string, string>();
    if (byMeter.size > 0) {
      for (const [meterKey, windows] of byMeter) {
        const meter = await this.deps.meters.record(tenantId, meterKey);
        if (meter === undefined) continue; // a feature's meter deleted: its checks read the stores (and fail there)
        const settled = new Date((await this.deps.watermark(tenantId, meterKey)).getTime() - this.deps.overlapMs);
        const totals = await this.deps.usage.liveTotals(meter, windows, settled);
        windows.forEach((w, i) => usage.set(usageKey(meterKey, w.customer, { start: w.from, end: w.to }), totals[i]!));
      }
    }
    view.usage = usage;
    view.usageAsOf = now;
    view.answers.clear();
    for (const customer of stale) if (view.forgotten.get(customer)! < began) view.forgotten.delete(customer);
    view.loaded = true;
    const hot = this.monotonic() - view.lastCheck < IDLE_MS;
    view.nextAt = began + (hot ? this.deps.cacheMs : COLD_MS);
    this.deps.onRefreshed?.((this.monotonic() - began) / 1000);
    // The figures are in; recording the events they show is another matter, whose failure
    // does not undo them (it is reported, and tried again at the next read).
    try {
      await this.fire(tenantId, view, now);
    } catch (e) {
      this.deps.onEventsFailed?.(tenantId, e);
    }
  }

  /** Reads one customer's context again into the view (gone: neither live nor idle). */
  private async readOne(tenantId: string, view: TenantView, customer: string, now: number): Promise<void> {
    view.contexts.delete(customer);
    view.idle.delete(customer);
    const found = await this.deps.customers.get(tenantId, customer);
    if (found === undefined) return;
    const context = (await this.readContexts(tenantId, customer, now, new Map([[customer, found.timezone]]))).contexts.get(customer);
    if (context === undefined) view.idle.add(customer);
    else view.contexts.set(customer, context);
  }

  /** Hands the limits reached and windows begun to `onWindowEvents`, once each as far as this node knows (the recorder keeps them once for good). */
  private async fire(tenantId: string, view: TenantView, now: number): Promise<void> {
    if (this.deps.onWindowEvents === undefined) return;
    const events: WindowEvent[] = [];
    for (const [customer, c] of view.contexts) {
      for (const f of c.features) {
        if (f.type !== 'metered') continue;
        const w = windowOf(f, c, now);
        const usage = view.usage.get(usageKey(f.meter, customer, w));
        if (usage === undefined) continue;
        const found = windowEvents({ customer, feature: f, subscriptionStart: Date.parse(c.subscription.start_date), window: w, usage, limit: limitOf(f, c).toFixed(), now });
        for (const e of found) if (!view.fired.has(e.key)) events.push(e);
      }
    }
    if (events.length === 0) return;
    await this.deps.onWindowEvents(tenantId, events);
    if (view.fired.size > 100_000) view.fired.clear();
    for (const e of events) view.fired.add(e.key);
  }

  /**
   * A check worked out from memory; `stale` when the feature's window rolled over since the
   * usage was read (the caller waits for a read of the new window, one for every customer);
   * `gone` when the customer's own context lapsed (its period ended or a grant expired: the
   * caller reads the stores, and the next refresh reads the customer again).
   */
  private fromMemory(view: TenantView, customer: string, c: CustomerContext, feature: Feature): Entitlement | 'stale' | 'gone' {
    const now = this.deps.clock();
    const memo = view.answers.get(`${customer}\n${feature.key}`);
    if (memo !== undefined && now < memo.until) return memo.answer;
    let until = lapseOf(c);
    if (now >= until) {
      // Its period ended or a grant expired: the stores answer until the next read has it again.
      view.forgotten.set(customer, this.monotonic());
      return 'gone';
    }
    let usage: string | undefined;
    if (feature.type === 'metered') {
      const w = windowOf(feature, c, now);
      usage = view.usage.get(usageKey(feature.meter, customer, w));
      if (usage === undefined) return 'stale';
      until = Math.min(until, w.end);
    }
    const answer = answerOf(feature, c, now, usage, view.usageAsOf);
    view.answers.set(`${customer}\n${feature.key}`, { answer, until });
    return answer;
  }

  private async checkDirect(tenantId: string, customer: string, featureKey: string): Promise<Entitlement> {
    const now = this.deps.clock();
    const context = await this.readCustomer(tenantId, customer, now);
    const feature = context?.features.find((f) => f.key === featureKey);
    if (context === undefined || feature === undefined) throw featureNotFound(featureKey, context === undefined);
    return this.answerDirect(tenantId, customer, feature, context, now);
  }

  private async listDirect(tenantId: string, customer: string): Promise<Entitlement[]> {
    const now = this.deps.clock();
    const context = await this.readCustomer(tenantId, customer, now);
    if (context === undefined) return [];
    const out: Entitlement[] = [];
    for (const feature of context.features) out.push(await this.answerDirect(tenantId, customer, feature, context, now));
    return out;
  }

  private async answerDirect(tenantId: string, customer: string, feature: Feature, c: CustomerContext, now: number): Promise<Entitlement> {
    if (feature.type !== 'metered') return answerOf(feature, c, now, undefined, now);
    const meter = await this.meterOf(tenantId, feature);
    const w = windowOf(feature, c, now);
    const settled = new Date((await this.deps.watermark(tenantId, meter.key)).getTime() - this.deps.overlapMs);
    const [usage] = await this.deps.usage.liveTotals(meter, [{ customer, from: w.start, to: w.end }], settled);
    return answerOf(feature, c, now, usage, now);
  }

  private async meterOf(tenantId: string, feature: Extract<Feature, { type: 'metered' }>): Promise<MeterRecord> {
    const meter = await this.deps.meters.record(tenantId, feature.meter);
    if (meter === undefined) throw new Error(`meter ${feature.meter} of feature ${feature.key} is gone`);
    return meter;
  }

  /** One customer's context from the stores; 404 for a customer the tenant does not have. */
  private async readCustomer(tenantId: string, customer: string, now: number): Promise<CustomerContext | undefined> {
    const found = await this.deps.customers.get(tenantId, customer);
    if (found === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', `no customer ${JSON.stringify(customer)}`, { field: 'id' });
    return (await this.readContexts(tenantId, customer, now, new Map([[customer, found.timezone]]))).contexts.get(customer);
  }

  /**
   * The contexts of the tenant's customers with a live subscription (every one, or the one
   * `zones` names), and the customers without one.
   */
  private async readContexts(tenantId: string, customer: string | undefined, now: number, known?: Map<string, string | null>): Promise<{ contexts: Map<string, CustomerContext>; idle: Set<string> }> {
    const [live, overrides, grants, zones] = await Promise.all([
      this.deps.subscriptions.liveByCustomer(tenantId, customer, new Date(now)),
      this.deps.store.overrides(tenantId, customer),
      this.deps.store.activeGrants(tenantId, customer, new Date(now)),
      known ?? this.deps.customers.zones(tenantId),
    ]);
    const plans = new Map<string, Feature[] | undefined>();
    const contexts = new Map<string, CustomerContext>();
    for (const [id, subscription] of live) {
      const planKey = `${subscription.plan.code}\n${subscription.plan.version}`;
      if (!plans.has(planKey)) plans.set(planKey, (await this.deps.plans.get(tenantId, subscription.plan.code, subscription.plan.version))?.features);
      const features = plans.get(planKey);
      if (features === undefined) continue;
      contexts.set(id, { subscription, timeZone: zones.get(id) ?? null, features, overrides: overrides.get(id) ?? new Map<string, Override>(), grants: grants.get(id) ?? (new Map() as ActiveGrants) });
    }
    return { contexts, idle: new Set([...zones.keys()].filter((id) => !contexts.has(id))) };
  }
}

function newView(lastCheck: number): TenantView {
  return {
    loaded: false,
    contexts: new Map(),
    idle: new Set(),
    contextsUntil: 0,
    usage: new Map(),
    usageAsOf: 0,
    answers: new Map(),
    forgotten: new Map(),
    lastCheck,
    nextAt: 0,
    refreshing: undefined,
    fired: new Set(),
  };
}

/** When the context changes by the clock alone: its period ends or a grant expires. */
function lapseOf(c: CustomerContext): number {
  let lapse = Date.parse(c.subscription.current_period.end);
  for (const g of c.grants.values()) lapse = Math.min(lapse, g.changesAt);
  return lapse;
}

function windowOf(feature: Extract<Feature, { type: 'metered' }>, c: CustomerContext, now: number): { start: number; end: number } {
  const period = { start: Date.parse(c.subscription.current_period.start), end: Date.parse(c.subscription.current_period.end) };
  return resetWindow(feature.reset, period, now, c.timeZone);
}

/** The plan's (or the override's) limit plus the active grants. */
function limitOf(feature: Extract<Feature, { type: 'metered' }>, c: CustomerContext): Dec {
  return new Dec(c.overrides.get(feature.key)?.limit ?? feature.limit).plus(c.grants.get(feature.key)?.amount ?? '0');
}

/** The answer, as a pure function of the feature, the context, the clock and (metered) the window's usage read at `usageAsOf`. */
function answerOf(feature: Feature, c: CustomerContext, now: number, usage: string | undefined, usageAsOf: number): Entitlement {
  const override = c.overrides.get(feature.key);
  // A suspended subscription (unpaid past the dunning policy's grace) has nothing.
  const decided = c.subscription.status === 'suspended' ? false : (override?.has_access ?? undefined);
  switch (feature.type) {
    case 'boolean':
      return { feature: feature.key, type: feature.type, has_access: decided ?? true, usage_as_of: new Date(now).toISOString() };
    case 'static':
      return { feature: feature.key, type: feature.type, has_access: decided ?? true, value: override?.value ?? feature.value, usage_as_of: new Date(now).toISOString() };
    case 'metered': {
      const used = new Dec(usage ?? '0');
      const limit = limitOf(feature, c);
      return {
        feature: feature.key,
        type: feature.type,
        has_access: decided ?? (!feature.hard || used.lt(limit)),
        limit: limit.toFixed(),
        hard: feature.hard,
        usage: used.toFixed(),
        remaining: Dec.max(limit.minus(used), 0).toFixed(),
        resets_at: new Date(windowOf(feature, c, now).end).toISOString(),
        usage_as_of: new Date(usageAsOf).toISOString(),
      };
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
