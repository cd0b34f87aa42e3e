import type { Registry } from 'prom-client';
import type { Route } from './types.js';

export interface HealthDeps {
  registry: Registry;
  /** Each named check throws when its dependency is unreachable. */
  checks: Record<string, () => Promise<void>>;
  isShuttingDown: () => boolean;
}

/** Liveness (the process answers), readiness (it can do its work), and the Prometheus exposition. */
export function healthRoutes(deps: HealthDeps): Route[] {
  return [
    { method: 'GET', pattern: '/healthz', access: 'public', handler: () => ({ status: 200, body: { status: 'ok' } }) },
    {
      method: 'GET',
      pattern: '/readyz',
      access: 'public',
      handler: async () => {
        if (deps.isShuttingDown()) return { status: 503, body: { status: 'shutting_down', checks: {} } };
        const names = Object.keys(deps.checks);
        const results = await Promise.allSettled(names.map((n) => deps.checks[n]!()));
        const checks: Record<string, string> = {};
        results.forEach((r, i) => {
          checks[names[i]!] = r.status === 'fulfilled' ? 'ok' : `unreachable: ${errorText(r.reason)}`;
        });
        const ok = results.every((r) => r.status === 'fulfilled');
        return { status: ok ? 200 : 503, body: { status: ok ? 'ready' : 'unready', checks } };
      },
    },
    {
      method: 'GET',
      pattern: '/metrics',
      access: 'public',
      handler: async () => ({ status: 200, body: await deps.registry.metrics(), contentType: deps.registry.contentType }),
    },
  ];
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
