import { jsonBody } from '../http/body.js';
import { json } from '../http/openapi-doc.js';
import { tenantOf, type Route } from '../http/types.js';
import { UpdateBillingProfile, type BillingProfileService } from './billing-profile.js';
import { BillingProfile } from './openapi.js';

/** `GET/PATCH /v1/billing_profile`: the tenant as the issuer of its invoices. */
export function billingProfileRoutes(profiles: BillingProfileService): Route[] {
  return [
    {
      method: 'GET',
      pattern: '/v1/billing_profile',
      access: 'tenant',
      doc: { operationId: 'getBillingProfile', tag: 'Invoices', summary: 'The issuer details and invoice numbering of the tenant', responses: { 200: json('The billing profile.', BillingProfile) } },
      handler: async (req) => ({ status: 200, body: await profiles.get(tenantOf(req)) }),
    },
    {
      method: 'PATCH',
      pattern: '/v1/billing_profile',
      access: 'tenant',
      doc: {
        operationId: 'updateBillingProfile',
        tag: 'Invoices',
        summary: 'Change the issuer details or the invoice prefix',
        description:
          'Invoices issued from now on carry these details; issued invoices keep theirs. The sequence of invoice numbers goes on under a new prefix (it never restarts), and a prefix another tenant uses is refused: every tenant may invoice through the same Stripe account.',
        body: { name: 'UpdateBillingProfile', schema: UpdateBillingProfile },
        responses: { 200: json('The billing profile.', BillingProfile) },
        errors: ['TALLY_ERR_ALREADY_EXISTS'],
      },
      handler: async (req) => ({ status: 200, body: await profiles.update(tenantOf(req), jsonBody(req, UpdateBillingProfile)) }),
    },
  ];
}
