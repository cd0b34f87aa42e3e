import type { Registry } from 'prom-client';
import type { Route } from './types.js';
import { json } from './openapi-doc.js';
import { obj, oneOfStrings, shape, str } from './openapi-shapes.js';

const Health = shape('Health', obj({ status: { const: 'ok' } }));
const Readiness = shape(
  'Readiness',
  obj({
    status: oneOfStrings(['ready', 'degraded', 'unready', 'shutting_down']),
    checks: { type: 'object', additionalProperties: str('`ok`, or `unreachable: <reason>` (`low: <reason>` for a nearly full disk)') },
  }),
);

export interface HealthDeps {
  registry: Registry;
  /** Each named check throws when its dependency is unreachable: the node is unready (503). */
  checks: Record<string, () => Promise<void>>;
  /**
   * Checks of dependencies the node can do its work without for a while (ingest keeps
   * accepting into its log while ClickHouse is down): failing, the node is `degraded` (200).
   */
  degradedBy?: Record<string, () => Promise<void>>;
  isShuttingDown: () => boolean;
}

/** Liveness (the process answers), readiness (it can do its work), and the Prometheus exposition. */
export function healthRoutes(deps: HealthDeps): Route[] {
  return [
    {
      method: 'GET',
      pattern: '/healthz',
      access: 'public',
      doc: { operationId: 'getHealth', tag: 'System', summary: 'Liveness: the process answers', responses: { 200: json('Alive.', Health) } },
      handler: () => ({ status: 200, body: { status: 'ok' } }),
    },
    {
      method: 'GET',
      pattern: '/readyz',
      access: 'public',
      doc: {
        operationId: 'getReadiness',
        tag: 'System',
        summary: 'Readiness: the stores answer and ingest can commit',
        responses: {
          200: json('Ready, or `degraded`: still taking work while something it can do without for a while is down (`checks` names it).', Readiness),
          503: json('Not ready; `checks` names what is down.', Readiness),
        },
      },
      handler: async () => {
        if (deps.isShuttingDown()) return { status: 503, body: { status: 'shutting_down', checks: {} } };
        const all = { ...deps.checks, ...deps.degradedBy };
        const names = Object.keys(all);
        const results = await Promise.allSettled(names.map((n) => all[n]!()));
        const checks: Record<string, string> = {};
        let unready = false;
        let degraded = false;
        results.forEach((r, i) => {
          const name = names[i]!;
          checks[name] = r.status === 'fulfilled' ? 'ok' : `${statusOf(r.reason)}: ${errorText(r.reason)}`;
          if (r.status === 'rejected') {
            if (name in deps.checks) unready = true;
            else degraded = true;
          }
        });
        if (unready) return { status: 503, body: { status: 'unready', checks } };
        return { status: 200, body: { status: degraded ? 'degraded' : 'ready', checks } };
      },
    },
    {
      method: 'GET',
      pattern: '/metrics',
      access: 'public',
      doc: {
        operationId: 'getMetrics',
        tag: 'System',
        summary: 'Prometheus metrics',
        responses: { 200: { description: 'The Prometheus text exposition.', contentType: 'text/plain', schema: { type: 'string' } } },
      },
      handler: async () => ({ status: 200, body: await deps.registry.metrics(), contentType: deps.registry.contentType }),
    },
  ];
}

/** How a failed check reads: `unreachable`, unless its error says otherwise (`low` for a nearly full disk). */
function statusOf(e: unknown): string {
  const status = (e as { status?: unknown } | null)?.status;
  return typeof status === 'string' ? status : 'unreachable';
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
