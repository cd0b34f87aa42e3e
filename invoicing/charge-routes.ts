import { z } from 'zod';
import { TallyError } from '../core/errors.js';
import { jsonBody } from '../http/body.js';
import { json } from '../http/openapi-doc.js';
import { actorOf, tenantOf, type Route } from '../http/types.js';
import { AddCharge, type OneOffCharges } from '../catalog/one-off-charges.js';
import { OneOffCharge, OneOffChargeList, SUBSCRIPTION_ID } from '../catalog/openapi.js';
import type { Billing } from './billing.js';

const AddChargeRequest = AddCharge.extend({
  invoice_now: z.boolean().optional(),
});

/**
 * `POST/GET /v1/subscriptions/:id/charges`: one-off charges, billed on the next invoice, or at
 * once on an invoice of their own (`invoice_now`).
 */
export function chargeRoutes(charges: OneOffCharges, billing: Billing, clock: () => number = Date.now): Route[] {
  const notFound = (id: string) => new TallyError('TALLY_ERR_NOT_FOUND', `no subscription ${JSON.stringify(id)}`, { field: 'id' });
  return [
    {
      method: 'POST',
      pattern: '/v1/subscriptions/:id/charges',
      access: 'tenant',
      doc: {
        operationId: 'addCharge',
        tag: 'Subscriptions',
        summary: 'Add a one-off charge to the next invoice',
        description:
          'A setup fee or an add-on: a `charge` line on the next invoice closed for the subscription (and on its upcoming invoice until then), discounted and taxed like its other charges. With `invoice_now`, the subscription\'s waiting charges go at once on an invoice of their own (`kind: one_off`: numbered, sent to Stripe and collected like any other; taxed, not discounted, no credits applied), and the answer names it in `invoice`.',
        path: SUBSCRIPTION_ID,
        body: { name: 'AddCharge', schema: AddChargeRequest },
        responses: { 201: json('The charge.', OneOffCharge) },
        errors: ['TALLY_ERR_NOT_FOUND', 'TALLY_ERR_INVALID_TRANSITION'],
      },
      handler: async (req) => {
        const { invoice_now: now, ...input } = jsonBody(req, AddChargeRequest);
        const at = new Date(clock());
        const charge = await charges.add(tenantOf(req), req.params.id!, input, actorOf(req), at);
        if (charge === undefined) throw notFound(req.params.id!);
        if (now !== true) return { status: 201, body: charge };
        const invoice = await billing.invoiceChargesNow(tenantOf(req), req.params.id!, at, charge.id);
        return { status: 201, body: { ...charge, invoice: invoice ?? null } };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/subscriptions/:id/charges',
      access: 'tenant',
      doc: { operationId: 'listCharges', tag: 'Subscriptions', summary: 'The one-off charges of a subscription, billed or waiting', path: SUBSCRIPTION_ID, responses: { 200: json('Oldest first.', OneOffChargeList) }, errors: ['TALLY_ERR_NOT_FOUND'] },
      handler: async (req) => {
        const data = await charges.list(tenantOf(req), req.params.id!);
        if (data === undefined) throw notFound(req.params.id!);
        return { status: 200, body: { data } };
      },
    },
  ];
}
