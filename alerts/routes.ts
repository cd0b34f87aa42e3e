import { jsonBody } from '../http/body.js';
import { actorOf, tenantOf, type Route } from '../http/types.js';
import { SetAlerts, type AlertService } from './settings.js';

/** `PUT/GET /v1/subscriptions/:id/alerts`: a subscription's usage-alert thresholds and what fired this period. */
export function alertRoutes(alerts: AlertService, clock: () => number = Date.now): Route[] {
  return [
    {
      method: 'PUT',
      pattern: '/v1/subscriptions/:id/alerts',
      access: 'tenant',
      handler: async (req) => ({ status: 200, body: await alerts.set(tenantOf(req), req.params.id!, jsonBody(req, SetAlerts), actorOf(req), new Date(clock())) }),
    },
    { method: 'GET', pattern: '/v1/subscriptions/:id/alerts', access: 'tenant', handler: async (req) => ({ status: 200, body: await alerts.get(tenantOf(req), req.params.id!, new Date(clock())) }) },
  ];
}
