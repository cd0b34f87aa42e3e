import { TallyError } from '../core/errors.js';
import { jsonBody, listLimit, queryText } from '../http/body.js';
import { tenantOf, type Route } from '../http/types.js';
import { json, limitParameter, startingAfter } from '../http/openapi-doc.js';
import { Deleted } from '../http/openapi-shapes.js';
import { CreateCustomer, UpdateCustomer, type CustomerRepository, type UpdateCustomerInput } from './customers.js';
import { Customer, CUSTOMER_ID, CustomerList } from './openapi.js';

/** `POST/GET /v1/customers`, `GET/PATCH/DELETE /v1/customers/:id`, scoped to the calling tenant. */
export function customerRoutes(customers: CustomerRepository): Route[] {
  const notFound = (id: string) => new TallyError('TALLY_ERR_NOT_FOUND', `no customer with id ${JSON.stringify(id)}`, { field: 'id' });
  return [
    {
      method: 'POST',
      pattern: '/v1/customers',
      access: 'tenant',
      doc: {
        operationId: 'createCustomer',
        tag: 'Customers',
        summary: 'Create a customer',
        body: { name: 'CreateCustomer', schema: CreateCustomer },
        responses: { 201: json('The customer.', Customer) },
        errors: ['TALLY_ERR_ALREADY_EXISTS'],
      },
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
      doc: { operationId: 'listCustomers', tag: 'Customers', summary: 'List customers, by id', query: [limitParameter(100, 1000), startingAfter], responses: { 200: json('A page of customers.', CustomerList) } },
      handler: async (req) => {
        const limit = listLimit(req, 100, 1000);
        const after = queryText(req, 'starting_after');
        return { status: 200, body: await customers.list(tenantOf(req), limit, after) };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/customers/:id',
      access: 'tenant',
      doc: { operationId: 'getCustomer', tag: 'Customers', summary: 'Get a customer', path: CUSTOMER_ID, responses: { 200: json('The customer.', Customer) } },
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
      doc: {
        operationId: 'updateCustomer',
        tag: 'Customers',
        summary: 'Change a customer',
        description: '`metadata` is merged; a key set to `""` is removed. `id` and `currency` never change: `TALLY_ERR_IMMUTABLE_FIELD`.',
        body: { name: 'UpdateCustomer', schema: UpdateCustomer },
        path: CUSTOMER_ID,
        responses: { 200: json('The customer.', Customer) },
        errors: ['TALLY_ERR_IMMUTABLE_FIELD'],
      },
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
      doc: {
        operationId: 'deleteCustomer',
        tag: 'Customers',
        summary: 'Delete a customer',
        description: 'Refused while the customer has a live subscription. The id stays taken.',
        path: CUSTOMER_ID,
        responses: { 200: json('Deleted.', Deleted) },
        errors: ['TALLY_ERR_INVALID_TRANSITION'],
      },
      handler: async (req) => {
        if (!(await customers.remove(tenantOf(req), req.params.id!))) throw notFound(req.params.id!);
        return { status: 200, body: { id: req.params.id, deleted: true } };
      },
    },
  ];
}
