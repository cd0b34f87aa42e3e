import { errors } from './errors.js';
import { expand } from './params.js';
import { type Route, checkExpand, route } from './router.js';

/**
 * Refunds: retrieve only. They are made by credit notes (`refund_amount`); creating one on its
 * own needs a charge or PaymentIntent, which this server does not have.
 */
export const refundRoutes: Route[] = [
  route('GET', '/v1/refunds/:id', { expand: expand() }, ({ store }, p, path) => {
    checkExpand(p.expand, []);
    const e = store.refunds.get(path.id ?? '');
    if (e === undefined) throw errors.resourceMissing('refund', path.id ?? '', 'id', 404);
    return structuredClone(e.obj);
  }),
];
