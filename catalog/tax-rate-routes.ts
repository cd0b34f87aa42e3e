import { jsonBody } from '../http/body.js';
import { tenantOf, type Route } from '../http/types.js';
import { CreateTaxRate, type TaxRateService } from './tax-rates.js';

/** `POST/GET /v1/tax_rates`. */
export function taxRateRoutes(rates: TaxRateService): Route[] {
  return [
    { method: 'POST', pattern: '/v1/tax_rates', access: 'tenant', handler: async (req) => ({ status: 201, body: await rates.create(tenantOf(req), jsonBody(req, CreateTaxRate)) }) },
    { method: 'GET', pattern: '/v1/tax_rates', access: 'tenant', handler: async (req) => ({ status: 200, body: { data: await rates.list(tenantOf(req)) } }) },
  ];
}
