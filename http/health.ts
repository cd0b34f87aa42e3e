import type { Registry } from 'prom-client';
import type { Route } from './types.js';
import { json } from './openapi-doc.js';
import { obj, oneOfStrings, shape, str } from './openapi-shapes.js';

const Health = shape('Health', obj({ status: { const: 'ok' } }));
const Readiness = shape('Readiness', obj({ status: oneOfStrings(['ready', 'unready', 'shutting_down']), checks: { type: 'object', additionalProperties: str('`ok`, or `unreachable: <reason>`') } }));

export interface HealthDeps {
  registry: Registry;
  /** Each named check throws when its dependency is unreachable. */
  checks: Record<string, () => Promise<void>>;
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
        responses: { 200: json('Ready.', Readiness), 503: json('Not ready; `checks` names what is down.', Readiness) },
      },
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

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
