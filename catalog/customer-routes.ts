import { TallyError } from '../core/errors.js';
import { jsonBody, listLimit } from '../http/body.js';
import { tenantOf, type Route } from '../http/types.js';
import { CreateCustomer, UpdateCustomer, type CustomerRepository, type UpdateCustomerInput } from './customers.js';

/** `POST/GET /v1/customers`, `GET/PATCH/DELETE /v1/customers/:id`, scoped to the calling tenant. */
export function customerRoutes(customers: CustomerRepository): Route[] {
  const notFound = (id: string) => new TallyError('TALLY_ERR_NOT_FOUND', `no customer with id ${JSON.stringify(id)}`, { field: 'id' });
  return [
    {
      method: 'POST',
      pattern: '/v1/customers',
      access: 'tenant',
      handler: async (req) => {
        const input = jsonBody(req, CreateCustomer);
        const customer = await customers.create(tenantOf(req), input);
        if (customer === undefined) throw new TallyError('TALLY_ERR_ALREADY_EXISTS', `customer id ${JSON.stringify(input.id)} is already taken`, { field: 'id' });
        return { status: 201, body: customer };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/customers',
      access: 'tenant',
      handler: async (req) => {
        const limit = listLimit(req, 100, 1000);
        const after = req.query.get('starting_after') ?? undefined;
        return { status: 200, body: await customers.list(tenantOf(req), limit, after) };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/customers/:id',
      access: 'tenant',
      handler: async (req) => {
        const customer = await customers.get(tenantOf(req), req.params.id!);
        if (customer === undefined) throw notFound(req.params.id!);
        return { status: 200, body: customer };
      },
    },
    {
      method: 'PATCH',
      pattern: '/v1/customers/:id',
      access: 'tenant',
      handler: async (req) => {
        const input = jsonBody(req, UpdateCustomer) as UpdateCustomerInput;
        const customer = await customers.update(tenantOf(req), req.params.id!, input);
        if (customer === undefined) throw notFound(req.params.id!);
        return { status: 200, body: customer };
      },
    },
    {
      method: 'DELETE',
      pattern: '/v1/customers/:id',
      access: 'tenant',
      handler: async (req) => {
        if (!(await customers.remove(tenantOf(req), req.params.id!))) throw notFound(req.params.id!);
        return { status: 200, body: { id: req.params.id, deleted: true } };
      },
    },
  ];
}
