import { describe, expect, it } from 'vitest';
import { EntitlementService, type EntitlementDeps } from '../../entitlements/service.js';

/**
 * The refresh loop's blast radius, on stores stood in for by plain functions (the figures
 * themselves are checked against the real engines in test/integration/entitlements.test.ts):
 * one tenant whose read hangs, or whose window events cannot be recorded, holds up no other.
 */
const DAY = 86_400_000;
const now = Date.UTC(2026, 5, 10, 12);

function deps(usageOf: (tenantId: string) => Promise<string>): Omit<EntitlementDeps, 'cacheMs' | 'clock'> {
  const subscription = { id: 'sub', customer: 'c', plan: { code: 'p', version: 1 }, status: 'active' as const, start_date: new Date(now - 5 * DAY).toISOString(), current_period: { start: new Date(now - 5 * DAY).toISOString(), end: new Date(now + 25 * DAY).toISOString() } };
  return {
    customers: { zones: () => Promise.resolve(new Map([['c', null]])), get: () => Promise.resolve({ timezone: null }) } as unknown as EntitlementDeps['customers'],
    subscriptions: { liveByCustomer: () => Promise.resolve(new Map([['c', subscription]])) },
    plans: { get: () => Promise.resolve({ features: [{ key: 'calls', type: 'metered', meter: 'm', limit: '10', hard: true, reset: 'period' }] }) } as unknown as EntitlementDeps['plans'],
    meters: { record: (tenantId: string) => Promise.resolve({ tenant_id: tenantId, key: 'm', aggregation: 'sum', backfilled_through: null }) } as unknown as EntitlementDeps['meters'],
    usage: { liveTotals: async (meter: { tenant_id: string }) => [await usageOf(meter.tenant_id)] } as unknown as EntitlementDeps['usage'],
    store: { overrides: () => Promise.resolve(new Map()), activeGrants: () => Promise.resolve(new Map()) } as unknown as EntitlementDeps['store'],
    watermark: () => Promise.resolve(new Date(now)),
    overlapMs: 0,
  };
}

describe('entitlement refreshes', () => {
  it("a tenant whose read hangs holds up only itself: another's usage is read, and its hard limit holds", async () => {
    let mono = 0;
    const usage = new Map([['A', '0'], ['B', '0']]);
    let release: (() => void) | undefined;
    let hang = false;
    const service = new EntitlementService({
      ...deps(async (tenantId) => {
        if (hang && tenantId === 'A') await new Promise<void>((resolve) => (release = resolve));
        return usage.get(tenantId)!;
      }),
      cacheMs: 1_000,
      clock: () => now,
      monotonic: () => mono,
      refreshBudgetMs: 50,
    });
    expect((await service.check('A', 'c', 'calls')).usage).toBe('0');
    expect((await service.check('B', 'c', 'calls')).usage).toBe('0');
    hang = true;
    usage.set('B', '50');
    mono += 1_000;
    expect(await service.refreshDue()).toBe(1); // B; A still reading
    expect(await service.check('B', 'c', 'calls')).toMatchObject({ usage: '50', has_access: false });
    expect((await service.check('A', 'c', 'calls')).usage).toBe('0'); // its previous figures
    mono += 1_000;
    expect(await service.refreshDue()).toBe(1); // A's read is not started again while it runs
    release!();
    await new Promise((resolve) => setTimeout(resolve, 10));
    mono += 1_000;
    hang = false;
    usage.set('A', '3');
    expect(await service.refreshDue()).toBe(2);
    expect((await service.check('A', 'c', 'calls')).usage).toBe('3');
  });

  it('window events that cannot be recorded leave the figures read, and are reported', async () => {
    const failed: string[] = [];
    const service = new EntitlementService({
      ...deps(() => Promise.resolve('20')),
      cacheMs: 1_000,
      clock: () => now,
      monotonic: () => 0,
      onWindowEvents: () => Promise.reject(new Error('the store is down')),
      onEventsFailed: (tenantId) => failed.push(tenantId),
    });
    expect(await service.check('A', 'c', 'calls')).toMatchObject({ usage: '20', has_access: false });
    expect(failed).toEqual(['A']);
  });

  it('a first read that fails sends the check to the stores', async () => {
    let reads = 0;
    const service = new EntitlementService({
      ...deps(() => (++reads === 1 ? Promise.reject(new Error('timeout')) : Promise.resolve('4'))),
      cacheMs: 1_000,
      clock: () => now,
      monotonic: () => 0,
    });
    expect((await service.check('A', 'c', 'calls')).usage).toBe('4');
    expect(reads).toBe(2);
  });
});
