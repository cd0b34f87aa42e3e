import { jsonBody } from '../http/body.js';
import { actorOf, tenantOf, type Route } from '../http/types.js';
import { SetAlerts, type AlertService } from './settings.js';
import { Alerts } from './openapi.js';
import { SUBSCRIPTION_ID } from '../catalog/openapi.js';
import { json } from '../http/openapi-doc.js';

/** `PUT/GET /v1/subscriptions/:id/alerts`: a subscription's usage-alert thresholds and what fired this period. */
export function alertRoutes(alerts: AlertService, clock: () => number = Date.now): Route[] {
  return [
    {
      method: 'PUT',
      pattern: '/v1/subscriptions/:id/alerts',
      access: 'tenant',
      doc: {
        operationId: 'setAlerts',
        tag: 'Alerts',
        summary: "Replace a subscription's usage-alert thresholds",
        description: 'Fields left out keep their thresholds; `[]` turns them off. A spend threshold without `meter` is over all charges; one with `meter` must name a meter the plan charges for (`TALLY_ERR_METER_NOT_FOUND`).',
        body: { name: 'SetAlerts', schema: SetAlerts },
        path: SUBSCRIPTION_ID,
        responses: { 200: json('The thresholds and what fired this period.', Alerts) },
        errors: ['TALLY_ERR_METER_NOT_FOUND'],
      },
      handler: async (req) => ({ status: 200, body: await alerts.set(tenantOf(req), req.params.id!, jsonBody(req, SetAlerts), actorOf(req), new Date(clock())) }),
    },
    {
      method: 'GET',
      pattern: '/v1/subscriptions/:id/alerts',
      access: 'tenant',
      doc: { operationId: 'getAlerts', tag: 'Alerts', summary: "A subscription's thresholds and what fired this period", path: SUBSCRIPTION_ID, responses: { 200: json('The thresholds.', Alerts) } },
      handler: async (req) => ({ status: 200, body: await alerts.get(tenantOf(req), req.params.id!, new Date(clock())) }),
    },
  ];
}
