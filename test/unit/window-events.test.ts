import { describe, expect, it } from 'vitest';
import { RESET_HORIZON_MS, windowEvents } from '../../entitlements/window-events.js';

/** The pure rule behind entitlement.limit_reached and entitlement.reset. */
const DAY = 86_400_000;
const feature = { key: 'calls', type: 'metered' as const, meter: 'api_calls', limit: '10', hard: true, reset: 'day' as const };
const start = Date.UTC(2026, 0, 10);
const at = (usage: string, limit: string, o: { subscriptionStart?: number; now?: number } = {}) =>
  windowEvents({ customer: 'c', feature, subscriptionStart: o.subscriptionStart ?? start - 5 * DAY, window: { start, end: start + DAY }, usage, limit, now: o.now ?? start + 1000 }).map((e) => e.kind);

describe('window events', () => {
  it('limit_reached at exactly the limit and above it, not below, and never for no usage', () => {
    expect(at('9.999999', '10')).toEqual(['reset']);
    expect(at('10', '10')).toEqual(['reset', 'limit_reached']);
    expect(at('10.000001', '10')).toEqual(['reset', 'limit_reached']);
    expect(at('0', '0')).toEqual(['reset']);
    expect(at('0.000001', '0')).toEqual(['reset', 'limit_reached']);
  });

  it("reset only for a window after the subscription's first, and within a day of its start", () => {
    expect(at('1', '10', { subscriptionStart: start })).toEqual([]);
    expect(at('1', '10', { subscriptionStart: start + 1 })).toEqual([]);
    expect(at('1', '10', { subscriptionStart: start - 1 })).toEqual(['reset']);
    expect(at('1', '10', { now: start + RESET_HORIZON_MS - 1 })).toEqual(['reset']);
    expect(at('1', '10', { now: start + RESET_HORIZON_MS })).toEqual([]);
  });

  it('keys name the kind, customer, feature and window start, so one window gives one of each', () => {
    const [reset, reached] = windowEvents({ customer: 'c', feature, subscriptionStart: 0, window: { start, end: start + DAY }, usage: '11', limit: '10', now: start });
    expect(reset!.key).toBe(`reset\nc\ncalls\n${start}`);
    expect(reached).toMatchObject({ key: `limit_reached\nc\ncalls\n${start}`, window: { start: new Date(start).toISOString(), end: new Date(start + DAY).toISOString() }, usage: '11', limit: '10', hard: true, meter: 'api_calls' });
  });
});
