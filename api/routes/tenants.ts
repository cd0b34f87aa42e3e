import { z } from 'zod';
import type { TenantRepository } from '../../core/tenants.js';
import { jsonBody } from '../http/body.js';
import type { Route } from '../http/types.js';

const CreateTenant = z.strictObject({
  name: z.string().trim().min(1, 'must not be empty').max(200),
});

/** `POST /v1/tenants` (admin key): a tenant and its first API key, shown once. */
export function tenantRoutes(tenants: TenantRepository): Route[] {
  return [
    {
      method: 'POST',
      pattern: '/v1/tenants',
      access: 'admin',
      handler: async (req) => {
        const { name } = jsonBody(req, CreateTenant);
        const tenant = await tenants.create(name);
        return { status: 201, body: tenant };
      },
    },
  ];
}
