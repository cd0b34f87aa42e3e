import { jsonBody } from '../http/body.js';
import { tenantOf, type Route } from '../http/types.js';
import { json } from '../http/openapi-doc.js';
import { CreateTaxRate, type TaxRateService } from './tax-rates.js';
import { TaxRate, TaxRateList } from './openapi.js';

/** `POST/GET /v1/tax_rates`. */
export function taxRateRoutes(rates: TaxRateService): Route[] {
  return [
    {
      method: 'POST',
      pattern: '/v1/tax_rates',
      access: 'tenant',
      doc: {
        operationId: 'createTaxRate',
        tag: 'Discounts',
        summary: 'Create a tax rate',
        body: { name: 'CreateTaxRate', schema: CreateTaxRate },
        responses: { 201: json('The tax rate.', TaxRate) },
        errors: ['TALLY_ERR_ALREADY_EXISTS'],
      },
      handler: async (req) => ({ status: 201, body: await rates.create(tenantOf(req), jsonBody(req, CreateTaxRate)) }),
    },
    {
      method: 'GET',
      pattern: '/v1/tax_rates',
      access: 'tenant',
      doc: { operationId: 'listTaxRates', tag: 'Discounts', summary: 'List tax rates', responses: { 200: json('Every tax rate.', TaxRateList) } },
      handler: async (req) => ({ status: 200, body: { data: await rates.list(tenantOf(req)) } }),
    },
  ];
}
