import { z } from 'zod';
import type { TenantRepository } from '../core/tenants.js';
import type { Authenticator } from '../core/auth.js';
import { jsonBody, listLimit, queryText } from '../http/body.js';
import { tenantOf, type Route } from '../http/types.js';
import { TallyError } from '../core/errors.js';
import { json, limitParameter, startingAfter } from '../http/openapi-doc.js';
import { ApiKey, ApiKeyList, NewApiKey, NewTenant, Tenant, TenantList } from './openapi.js';
import { LINE_TEXT, LINE_TEXT_RULE } from '../core/display-text.js';

const NoFields = z.strictObject({});

export const CreateTenant = z.strictObject({
  name: z.string().trim().min(1, 'must not be empty').max(200).regex(LINE_TEXT, LINE_TEXT_RULE),
});

/**
 * `POST /v1/tenants` (admin key): a tenant and its first API key, shown once.
 * `GET /v1/tenants` (admin key): the tenants, by id (the console's tenant list).
 * `GET /v1/tenant` (tenant key): the tenant the key belongs to, to check a key works.
 * `POST/GET /v1/tenant/api_keys`, `DELETE /v1/tenant/api_keys/:id` (tenant key): rotation —
 * another key (shown once), the keys with when each was made and revoked, and revocation (never
 * of the last active key). A revoked key is forgotten by this process's authenticator at once
 * (other processes trust their cached copy for up to TALLY_AUTH_CACHE_SECONDS).
 */
export function tenantRoutes(tenants: TenantRepository, auth: Pick<Authenticator, 'forget'>): Route[] {
  return [
    {
      method: 'POST',
      pattern: '/v1/tenants',
      access: 'admin',
      doc: {
        operationId: 'createTenant',
        tag: 'Tenants',
        summary: 'Create a tenant and its first API key',
        body: { name: 'CreateTenant', schema: CreateTenant },
        responses: { 201: json('The tenant, with its API key (shown only here).', NewTenant) },
      },
      handler: async (req) => {
        const { name } = jsonBody(req, CreateTenant);
        const tenant = await tenants.create(name);
        return { status: 201, body: tenant };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/tenants',
      access: 'admin',
      doc: { operationId: 'listTenants', tag: 'Tenants', summary: 'List tenants, by id', query: [limitParameter(100, 1000), startingAfter], responses: { 200: json('A page of tenants.', TenantList) } },
      handler: async (req) => ({ status: 200, body: await tenants.list(listLimit(req, 100, 1000), queryText(req, 'starting_after')) }),
    },
    {
      method: 'POST',
      pattern: '/v1/tenant/api_keys',
      access: 'tenant',
      doc: { operationId: 'createApiKey', tag: 'Tenants', summary: 'Create another API key, for rotation', responses: { 201: json('The key, with its secret (shown only here).', NewApiKey) } },
      handler: async (req) => {
        // Takes no fields: one sent anyway (a name, say) is refused rather than dropped unread.
        jsonBody(req, NoFields);
        return { status: 201, body: await tenants.createKey(tenantOf(req)) };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/tenant/api_keys',
      access: 'tenant',
      doc: { operationId: 'listApiKeys', tag: 'Tenants', summary: "The tenant's API keys", responses: { 200: json('Every key, with when it was made and revoked.', ApiKeyList) } },
      handler: async (req) => ({ status: 200, body: { data: await tenants.listKeys(tenantOf(req)) } }),
    },
    {
      method: 'DELETE',
      pattern: '/v1/tenant/api_keys/:id',
      access: 'tenant',
      doc: {
        operationId: 'revokeApiKey',
        tag: 'Tenants',
        summary: 'Revoke an API key',
        description: 'Never the last active key: create another one first.',
        path: { id: 'The key id.' },
        responses: { 200: json('The revoked key.', ApiKey) },
        errors: ['TALLY_ERR_INVALID_TRANSITION'],
      },
      handler: async (req) => {
        const key = await tenants.revokeKey(tenantOf(req), req.params.id!);
        if (key === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', `no API key ${JSON.stringify(req.params.id)}`, { field: 'id' });
        auth.forget(key.id);
        return { status: 200, body: key };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/tenant',
      access: 'tenant',
      doc: { operationId: 'getTenant', tag: 'Tenants', summary: 'The tenant the key belongs to', responses: { 200: json('The tenant.', Tenant) }, errors: ['TALLY_ERR_NOT_FOUND'] },
      handler: async (req) => {
        const tenant = await tenants.get(tenantOf(req));
        if (tenant === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', 'tenant not found');
        return { status: 200, body: tenant };
      },
    },
  ];
}
