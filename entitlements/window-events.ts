import { Dec } from '../core/money.js';
import type { Feature } from '../catalog/plans.js';

/** A limit reached or a window begun, for `entitlement.limit_reached` and `entitlement.reset`. */
export interface WindowEvent {
  kind: 'limit_reached' | 'reset';
  /** What makes it once: kind, customer, feature and window start. */
  key: string;
  customer: string;
  feature: string;
  meter: string;
  window: { start: string; end: string };
  limit: string;
  /** The window's usage when it was found. */
  usage: string;
  hard: boolean;
}

/** A window that began longer ago than this gets no reset event (memory of windows begun before a node started is not kept). */
export const RESET_HORIZON_MS = 86_400_000;

/**
 * The window events of one metered feature of one customer, as a pure rule: `limit_reached`
 * once its usage is above zero and at or above the limit (plan or override plus grants);
 * `reset` for every window after the subscription's first, within a day of its start.
 */
export function windowEvents(i: {
  customer: string;
  feature: Extract<Feature, { type: 'metered' }>;
  subscriptionStart: number;
  window: { start: number; end: number };
  usage: string;
  limit: string;
  now: number;
}): WindowEvent[] {
  const base = {
    customer: i.customer,
    feature: i.feature.key,
    meter: i.feature.meter,
    window: { start: new Date(i.window.start).toISOString(), end: new Date(i.window.end).toISOString() },
    limit: i.limit,
    usage: i.usage,
    hard: i.feature.hard,
  };
  const key = (kind: WindowEvent['kind']) => `${kind}\n${i.customer}\n${i.feature.key}\n${i.window.start}`;
  const out: WindowEvent[] = [];
  if (i.window.start > i.subscriptionStart && i.now - i.window.start < RESET_HORIZON_MS) out.push({ kind: 'reset', key: key('reset'), ...base });
  const usage = new Dec(i.usage);
  if (usage.gt(0) && usage.gte(i.limit)) out.push({ kind: 'limit_reached', key: key('limit_reached'), ...base });
  return out;
}
