import { jsonBody } from '../http/body.js';
import { json } from '../http/openapi-doc.js';
import { actorOf, tenantOf, type Route } from '../http/types.js';
import { CUSTOMER_ID } from '../catalog/openapi.js';
import { SetBalanceAlerts, type BalanceAlertService } from './balance.js';
import { BalanceAlerts } from './openapi.js';

/** `PUT/GET /v1/customers/:id/balance_alerts`: a customer's low-balance level and the balance alerts that fired. */
export function balanceAlertRoutes(alerts: BalanceAlertService): Route[] {
  return [
    {
      method: 'PUT',
      pattern: '/v1/customers/:id/balance_alerts',
      access: 'tenant',
      doc: {
        operationId: 'setBalanceAlerts',
        tag: 'Alerts',
        summary: "Set a customer's low-balance level",
        description: '`balance.low` fires when the prepaid balance (`GET /v1/customers/{id}/balance`) is at or below the level, `balance.depleted` when it is at or below zero; each once per period, evaluated as usage is rated. `"0"`: only `balance.depleted`.',
        body: { name: 'SetBalanceAlerts', schema: SetBalanceAlerts },
        path: CUSTOMER_ID,
        responses: { 200: json('The level and what fired.', BalanceAlerts) },
      },
      handler: async (req) => ({ status: 200, body: await alerts.set(tenantOf(req), req.params.id!, jsonBody(req, SetBalanceAlerts), actorOf(req)) }),
    },
    {
      method: 'GET',
      pattern: '/v1/customers/:id/balance_alerts',
      access: 'tenant',
      doc: { operationId: 'getBalanceAlerts', tag: 'Alerts', summary: "A customer's low-balance level and the balance alerts that fired", path: CUSTOMER_ID, responses: { 200: json('The level and what fired.', BalanceAlerts) } },
      handler: async (req) => ({ status: 200, body: await alerts.get(tenantOf(req), req.params.id!) }),
    },
  ];
}
