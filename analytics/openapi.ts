import { arr, decimal, instant, int, nullable, obj, shape, str } from '../http/openapi-shapes.js';

/** What the analytics routes answer (mrr.ts `MrrRow` and `MovementRow`, routes.ts), for the OpenAPI document. */

export const Mrr = shape('Mrr', obj({ at: instant, data: arr(obj({ currency: str(), mrr: decimal(), arr: decimal(), customers: int(), arpu: nullable(decimal()) })) }));

export const MrrMovements = shape(
  'MrrMovements',
  obj({
    from: instant,
    to: instant,
    data: arr(
      obj({
        currency: str(),
        starting_mrr: decimal(),
        new: decimal(),
        expansion: decimal(),
        contraction: decimal(),
        churned: decimal(),
        ending_mrr: decimal(),
        customers_at_start: int(),
        churned_customers: int(),
        churn_rate: nullable(decimal()),
      }),
    ),
  }),
);

export const RevenueByPlan = shape('RevenueByPlan', obj({ from: instant, to: instant, data: arr(obj({ plan: str(), currency: str(), invoices: int(), revenue: decimal() })) }));
