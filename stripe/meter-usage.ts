import { createHash } from 'node:crypto';
import type { ClickHouseStore } from '../core/clickhouse.js';
import type { PostgresStore } from '../core/postgres.js';
import { errorClass, type StripeGateway } from './gateway.js';
import { idempotencyKey } from './keys.js';
import type { WriteLimiter } from './rate-limit.js';
import { Dec } from '../core/money.js';

/**
 * Usage of `meter`-mode plans pushed to Stripe Billing Meters, hour by hour.
 *
 * For each such subscription, meter and hour of the last 34 days, the hourly quantity is what
 * the hourly rated usage says the hour added (summed over plan segments). It is compared with
 * what was pushed for that hour; a difference is pushed as one more meter event carrying the
 * difference, with the identifier `<subscription>:<meter>:<hour>:<revision>` (a late event
 * raises the revision). Values are integers in millionths of the meter's unit (Stripe meter
 * values are whole numbers), so a Stripe price per unit is set per million of them.
 *
 * Exactly once: an event is written down before it is sent and recorded after Stripe accepted
 * it; a crash in between sends the same event again (identifier, idempotency key and value),
 * which Stripe recognises for 24 hours (see pushSubscription). Stripe takes
 * events up to 35 days old: hours older than 34 days are no longer pushed or corrected.
 */
export const PUSH_WINDOW_MS = 34 * 86_400_000;

// 100 significant digits: a quantity below 10^20 with 6 decimals has 26, which the default
// 20-digit decimal would round before it reached Stripe.
const MICROS = new Dec(1_000_000);

/** Stripe's limit on a meter's `event_name` and on a meter event's `identifier`. */
export const STRIPE_NAME_MAX = 100;

export interface MeterPushDeps {
  ch: ClickHouseStore;
  pg: PostgresStore;
  gateway: StripeGateway;
  limiter: WriteLimiter;
  /** Makes sure the tenant's customer has a Stripe customer; its id. */
  stripeCustomer: (tenantId: string, customerId: string) => Promise<string>;
  clock?: () => number;
  /**
   * Called for a subscription whose push failed for a reason of its own (Stripe refused its
   * customer or its event): it is skipped and the rest go on. Failures a retry can help
   * (Stripe unreachable, 429, 5xx) end the run instead, as they would for every subscription.
   */
  onSubscriptionFailed?: (sub: { tenantId: string; subscriptionId: string }, error: unknown) => void;
  /** Whether retrying can help this error; such errors end the run rather than being set aside. */
  isRetryable?: (error: unknown) => boolean;
}

interface MeterSub {
  tenant_id: string;
  subscription_id: string;
  customer_id: string;
}

/**
 * The Stripe `event_name` of a tenant's meter: `tally.<tenant>.<meter>` when that fits in
 * Stripe's 100 characters; otherwise the meter key is cut and followed by `~` and a digest of
 * the whole key, so two long keys sharing a prefix still get different names. Meter keys never
 * hold `~`, so a shortened name can never equal a whole one.
 */
export function meterEventName(tenantId: string, meter: string): string {
  return fitName(`tally.${tenantId}.`, meter, '');
}

/**
 * The identifier of one meter event: `<subscription>:<meter>:<hour>:<revision>`, the meter part
 * shortened as in {@link meterEventName} when the whole would pass Stripe's 100 characters.
 * Stripe refuses a second event with an identifier it has seen in 24 hours, so the identifier
 * must be the same on every retry of one push (it is: built from ids only) and different for
 * every other push (the digest keeps long keys apart).
 */
export function meterEventIdentifier(subscriptionId: string, meter: string, hourSeconds: number, revision: number): string {
  return fitName(`${subscriptionId}:`, meter, `:${hourSeconds}:${revision}`);
}

/**
 * What one push adds to Stripe's meter: the hour's quantity less what was pushed before, in
 * millionths (quantities carry at most 6 decimals, so this is a whole number, and exact).
 */
export function meterValue(quantity: string, pushed: string): string {
  return new Dec(quantity).minus(pushed).times(MICROS).toFixed(0);
}

function fitName(prefix: string, meter: string, suffix: string): string {
  const whole = `${prefix}${meter}${suffix}`;
  if (whole.length <= STRIPE_NAME_MAX) return whole;
  const digest = `~${createHash('sha256').update(meter).digest('hex').slice(0, 24)}`;
  const room = STRIPE_NAME_MAX - prefix.length - suffix.length - digest.length;
  // Ids and hours are short (ids ~25 characters): the room left is never negative.
  if (room < 0) throw new Error(`cannot fit a Stripe name for meter ${meter.slice(0, 32)}: prefix ${prefix.length} and suffix ${suffix.length} characters`);
  return `${prefix}${meter.slice(0, room)}${digest}${suffix}`;
}

export async function pushMeterUsage(d: MeterPushDeps, deadline = Infinity): Promise<{ events: number }> {
  const now = (d.clock ?? Date.now)();
  const from = new Date(now - PUSH_WINDOW_MS);
  // Subscriptions on a meter-mode plan at any time in the window.
  const { rows: subs } = await d.pg.query<MeterSub>(
    `SELECT DISTINCT s.tenant_id, s.id AS subscription_id, s.customer_id
       FROM subscriptions s
       JOIN subscription_plans sp ON sp.tenant_id = s.tenant_id AND sp.subscription_id = s.id
       JOIN plans p ON p.tenant_id = sp.tenant_id AND p.code = sp.plan_code AND p.version = sp.plan_version
      WHERE p.billing_mode = 'meter' AND (s.canceled_at IS NULL OR s.canceled_at > $1)
      ORDER BY s.tenant_id, s.id`,
    [from],
  );
  let events = 0;
  for (const sub of subs) {
    if (Date.now() >= deadline) break;
    try {
      events += await pushSubscription(d, sub, from);
    } catch (e) {
      if (d.onSubscriptionFailed === undefined || (d.isRetryable?.(e) ?? true)) throw e;
      d.onSubscriptionFailed({ tenantId: sub.tenant_id, subscriptionId: sub.subscription_id }, e);
    }
  }
  return { events };
}

/** What was pushed for one hour, and the event on its way (written before it is sent). */
interface HourPushed {
  meter: string;
  hour: Date;
  pushed: string;
  revision: number;
  sending_revision: number | null;
  sending_quantity: string | null;
}

/**
 * One subscription's hours not yet on Stripe's meter; the number of events pushed.
 *
 * Each event is written down as on its way before it is sent, and recorded as pushed after
 * Stripe took it, each step only over the state the push read. So an event cut short is sent
 * again exactly as it was (never a new quantity under its revision, which Stripe would refuse
 * for 24 hours and then take on top of the first); and of several sync processes pushing the
 * subscription at once, one that finds the record moved on leaves the subscription to the
 * process that moved it.
 */
async function pushSubscription(d: MeterPushDeps, sub: MeterSub, from: Date): Promise<number> {
  let events = 0;
  const hours = await hourlyQuantities(d.ch, sub, from);
  const { rows } = await d.pg.query<HourPushed>(
    `SELECT meter, hour, pushed::text AS pushed, revision, sending_revision, sending_quantity::text AS sending_quantity
       FROM stripe_meter_pushes WHERE tenant_id = $1 AND subscription_id = $2 AND hour >= $3`,
    [sub.tenant_id, sub.subscription_id, from],
  );
  const done = new Map(rows.map((p) => [`${p.meter}\n${p.hour.getTime()}`, p]));
  let customer: string | undefined;
  const send = async (meter: string, hour: number, quantity: string, was: { pushed: string; revision: number }, revision: number) => {
    customer ??= await d.stripeCustomer(sub.tenant_id, sub.customer_id);
    const eventName = await ensureMeter(d, sub.tenant_id, meter);
    const identifier = meterEventIdentifier(sub.subscription_id, meter, hour / 1000, revision);
    await d.limiter.take();
    try {
      await d.gateway.createMeterEvent(
        { eventName, stripeCustomer: customer, value: meterValue(quantity, was.pushed), identifier, timestamp: hour / 1000 },
        idempotencyKey(sub.tenant_id, 'meter_event', identifier),
      );
    } catch (e) {
      // Refused outright (a 400: Stripe kept nothing, and would refuse the same again): the
      // revision is used up with nothing pushed, so the next push sends the hour's difference
      // then, under the next one, instead of this event for ever.
      if (errorClass(e) === 'invalid') {
        await d.pg.query(
          `UPDATE stripe_meter_pushes SET revision = sending_revision, sending_revision = NULL, sending_quantity = NULL, updated_at = now()
            WHERE tenant_id = $1 AND subscription_id = $2 AND meter = $3 AND hour = $4 AND sending_revision = $5`,
          [sub.tenant_id, sub.subscription_id, meter, new Date(hour), revision],
        );
      }
      throw e;
    }
    const recorded = await d.pg.query(
      `UPDATE stripe_meter_pushes SET pushed = sending_quantity, revision = sending_revision, sending_revision = NULL, sending_quantity = NULL, updated_at = now()
        WHERE tenant_id = $1 AND subscription_id = $2 AND meter = $3 AND hour = $4 AND sending_revision = $5`,
      [sub.tenant_id, sub.subscription_id, meter, new Date(hour), revision],
    );
    return recorded.rowCount === 1;
  };

  // Events cut short by an earlier push: sent again as they were, before anything new.
  for (const p of rows) {
    if (p.sending_revision === null || p.sending_quantity === null) continue;
    if (!(await send(p.meter, p.hour.getTime(), p.sending_quantity, p, p.sending_revision))) return events;
    Object.assign(p, { pushed: p.sending_quantity, revision: p.sending_revision, sending_revision: null, sending_quantity: null });
    events++;
  }

  for (const h of hours) {
    const was = done.get(`${h.meter}\n${h.hour}`) ?? { pushed: '0', revision: 0 };
    if (meterValue(h.quantity, was.pushed) === '0') continue;
    const revision = was.revision + 1;
    const onItsWay = await d.pg.query(
      `INSERT INTO stripe_meter_pushes AS p (tenant_id, subscription_id, meter, hour, pushed, revision, sending_revision, sending_quantity)
       VALUES ($1, $2, $3, $4, 0, 0, $5, $6)
       ON CONFLICT (tenant_id, subscription_id, meter, hour) DO UPDATE SET sending_revision = EXCLUDED.sending_revision, sending_quantity = EXCLUDED.sending_quantity, updated_at = now()
        WHERE p.revision = $5 - 1 AND p.sending_revision IS NULL`,
      [sub.tenant_id, sub.subscription_id, h.meter, new Date(h.hour), revision, h.quantity],
    );
    // Another process moved this hour on since it was read: the subscription is in its hands.
    if (onItsWay.rowCount !== 1 || !(await send(h.meter, h.hour, h.quantity, was, revision))) return events;
    events++;
  }
  return events;
}

/** What each hour added to the subscription's rated quantity, per meter, from the newest rated rows. */
async function hourlyQuantities(ch: ClickHouseStore, sub: MeterSub, from: Date): Promise<{ meter: string; hour: number; quantity: string }[]> {
  const rs = await ch.client.query({
    query: `SELECT meter, toUnixTimestamp(hour) AS h, toString(sum(added)) AS q FROM (
              SELECT meter, hour, quantity - lagInFrame(quantity, 1, toDecimal128(0, 6))
                       OVER (PARTITION BY meter, segment_start ORDER BY hour ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS added
              FROM ${ch.table('rated_usage_v1')} FINAL
              WHERE tenant_id = {t:String} AND subscription_id = {s:String})
            WHERE hour >= toDateTime({from:UInt32}, 'UTC')
            GROUP BY meter, hour ORDER BY meter, hour`,
    query_params: { t: sub.tenant_id, s: sub.subscription_id, from: Math.ceil(from.getTime() / 3_600_000) * 3600 },
    format: 'JSONEachRow',
  });
  return (await rs.json<{ meter: string; h: number | string; q: string }>()).map((r) => ({ meter: r.meter, hour: Number(r.h) * 1000, quantity: r.q }));
}

async function ensureMeter(d: MeterPushDeps, tenantId: string, meter: string): Promise<string> {
  const { rows } = await d.pg.query<{ event_name: string }>('SELECT event_name FROM stripe_meters WHERE tenant_id = $1 AND meter = $2', [tenantId, meter]);
  if (rows[0] !== undefined) return rows[0].event_name;
  const eventName = meterEventName(tenantId, meter);
  let id = await d.gateway.findMeter(eventName);
  if (id === undefined) {
    await d.limiter.take();
    id = await d.gateway.createMeter({ eventName, displayName: `${meter} (Tally, millionths)` }, idempotencyKey(tenantId, 'meter', meter));
  }
  await d.pg.query('INSERT INTO stripe_meters (tenant_id, meter, event_name, stripe_meter_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [tenantId, meter, eventName, id]);
  return eventName;
}
