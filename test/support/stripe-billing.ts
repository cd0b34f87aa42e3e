import { createRegistry } from '../../core/metrics.js';
import type { Env } from '../../core/config.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import type { BillingSync } from '../../stripe/sync.js';
import { startStripeFake } from '../../stripe-fake/index.js';
import type { StripeFake } from '../../stripe-fake/api.js';
import { type TestApi, jsonRequest, startTestApi, testAggregator } from './api.js';
import { testSync } from './sync.js';

/**
 * Tally billing through the local Stripe server, as a deployment with billing sync runs it:
 * the API on fresh stores with Stripe configured, the Stripe server's webhooks signed and
 * delivered to it, one tenant, a rating stack that closes periods as a synced deployment does,
 * and a billing-sync worker the test runs. With `stripeClock`, Tally's clock is the Stripe
 * server's, so a test that moves it (`fake.advance`) moves both.
 */
export interface StripeBilling {
  fake: StripeFake;
  api: TestApi;
  sync: BillingSync;
  tenant: { id: string; key: string; auth: Record<string, string> };
  /** A request as the tenant. */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** The customer's invoices, oldest period first. */
  invoicesOf(customer: string): Promise<Record<string, any>[]>;
  /** Closes every period ended (plus grace) by `asOf`, as billing-sync deployments do. */
  close(asOf: Date): Promise<void>;
  /** One billing-sync run (nothing may fail), then Stripe's webhooks delivered. */
  syncAndDeliver(): Promise<void>;
  /** Outbound webhook events of `type`, newest first. */
  events(type?: string): Promise<{ type: string; data: { id: string; status?: string } }[]>;
  stop(): Promise<void>;
}

export const WEBHOOK_SECRET = 'whsec_stripe_billing_0123456789';

export async function startStripeBilling(o: { tenant: string; env?: Env; stripeClock?: boolean }): Promise<StripeBilling> {
  const fake = await startStripeFake({ writesPerSecond: 100_000 });
  const api = await startTestApi({
    env: { STRIPE_SECRET_KEY: 'sk_test_billing', STRIPE_API_BASE: fake.url, STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, ...o.env },
    ...(o.stripeClock === true ? { clock: () => fake.now() } : {}),
  });
  fake.webhooks.configure({ url: `${api.url}/v1/stripe/webhooks`, secret: WEBHOOK_SECRET });
  const tenant = await api.tenant(o.tenant);
  const stack: RatingStack = createRatingStack(api.stores.config, api.stores, createRegistry());
  const sync = testSync(api, fake.url);
  const call = (method: string, path: string, body?: unknown) => jsonRequest(api.url, tenant.auth, method, path, body);
  return {
    fake,
    api,
    sync,
    tenant,
    call,
    invoicesOf: async (customer) => {
      const page = (await call('GET', `/v1/invoices?customer=${encodeURIComponent(customer)}`)).body as { data: Record<string, any>[] };
      return page.data.sort((a, b) => String(a.period_start).localeCompare(String(b.period_start)));
    },
    close: async (asOf) => {
      await testAggregator(api).runOnce();
      await stack.billing.close(asOf);
    },
    syncAndDeliver: async () => {
      const r = await sync.runOnce();
      if (r.failed > 0) throw new Error(`billing sync failed ${r.failed} row(s)`);
      await fake.webhooks.idle();
    },
    events: async (type) => {
      const all = (await call('GET', '/v1/webhook_events?limit=500')).body.data as { type: string; data: { id: string; status?: string } }[];
      return type === undefined ? all : all.filter((e) => e.type === type);
    },
    stop: async () => {
      await stack.pool.close();
      await fake.close();
      await api.stop();
    },
  };
}
