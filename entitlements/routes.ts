import { TallyError } from '../core/errors.js';
import { parseTimestamp } from '../core/time.js';
import { jsonBody } from '../http/body.js';
import { json } from '../http/openapi-doc.js';
import { Deleted } from '../http/openapi-shapes.js';
import { tenantOf, type Route } from '../http/types.js';
import type { CustomerRepository } from '../catalog/customers.js';
import { FEATURE_KEY } from '../catalog/plans.js';
import { Entitlement, EntitlementGrant, EntitlementGrantList, EntitlementList, EntitlementOverride } from './openapi.js';
import type { EntitlementService } from './service.js';
import { CreateEntitlementGrant, SetOverride, type EntitlementStore } from './store.js';

const CUSTOMER_ID = { id: "The customer's id (the tenant's own)." };
const FEATURE = { ...CUSTOMER_ID, feature: "The feature's key in the plan." };

/**
 * `GET /v1/customers/:id/entitlements[/:feature]` (the checks), `PUT|DELETE
 * /v1/customers/:id/entitlements/:feature/override` and `POST|GET /v1/customers/:id/entitlement_grants`.
 */
export function entitlementRoutes(deps: { service: EntitlementService; store: EntitlementStore; customers: CustomerRepository; clock: () => number }): Route[] {
  const { service, store } = deps;
  const customerOf = async (tenantId: string, id: string): Promise<void> => {
    if ((await deps.customers.get(tenantId, id)) === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', `no customer ${JSON.stringify(id)}`, { field: 'id' });
  };
  const featureOf = (feature: string): string => {
    if (!FEATURE_KEY.test(feature)) throw new TallyError('TALLY_ERR_INVALID_VALUE', 'feature must be a feature key: letters, digits and _ . : - (at most 64)', { field: 'feature' });
    return feature;
  };
  return [
    {
      method: 'GET',
      pattern: '/v1/customers/:id/entitlements',
      access: 'tenant',
      doc: {
        operationId: 'listEntitlements',
        tag: 'Entitlements',
        summary: "Every feature of the customer's plan, checked",
        description: "The features of the plan version of the customer's live subscription (none without one), each as `GET /v1/customers/{id}/entitlements/{feature}` answers it.",
        path: CUSTOMER_ID,
        responses: { 200: json('The checks.', EntitlementList) },
      },
      handler: async (req) => ({ status: 200, body: { customer: req.params.id!, data: await service.list(tenantOf(req), req.params.id!) } }),
    },
    {
      method: 'GET',
      pattern: '/v1/customers/:id/entitlements/:feature',
      access: 'tenant',
      doc: {
        operationId: 'checkEntitlement',
        tag: 'Entitlements',
        summary: 'Whether the customer may use a feature now',
        description: 'For a metered feature, the usage so far in the current window counts events within seconds of their acceptance. Answers are served from memory for `TALLY_ENTITLEMENT_CACHE_MS`; `usage_as_of` says when this one was worked out.',
        path: FEATURE,
        responses: { 200: json('The check.', Entitlement) },
        errors: ['TALLY_ERR_FEATURE_NOT_FOUND'],
      },
      handler: async (req) => ({ status: 200, body: await service.check(tenantOf(req), req.params.id!, req.params.feature!) }),
    },
    {
      method: 'PUT',
      pattern: '/v1/customers/:id/entitlements/:feature/override',
      access: 'tenant',
      doc: {
        operationId: 'setEntitlementOverride',
        tag: 'Entitlements',
        summary: "Override a feature of the customer's plan",
        description: '`limit` replaces a metered feature\'s limit, `value` a static feature\'s value, `has_access` decides access outright; what is left out keeps the plan\'s.',
        body: { name: 'SetEntitlementOverride', schema: SetOverride },
        path: FEATURE,
        responses: { 200: json('The override.', EntitlementOverride) },
      },
      handler: async (req) => {
        const tenantId = tenantOf(req);
        const customer = req.params.id!;
        const feature = featureOf(req.params.feature!);
        const input = jsonBody(req, SetOverride);
        await customerOf(tenantId, customer);
        const override = await store.setOverride(tenantId, customer, feature, input, new Date(deps.clock()));
        service.forget(tenantId, customer);
        return { status: 200, body: { customer, ...override } };
      },
    },
    {
      method: 'DELETE',
      pattern: '/v1/customers/:id/entitlements/:feature/override',
      access: 'tenant',
      doc: { operationId: 'deleteEntitlementOverride', tag: 'Entitlements', summary: 'Remove an override: the plan decides again', path: FEATURE, responses: { 200: json('Removed (`id` is the feature).', Deleted) } },
      handler: async (req) => {
        const tenantId = tenantOf(req);
        const customer = req.params.id!;
        const feature = featureOf(req.params.feature!);
        await customerOf(tenantId, customer);
        if (!(await store.deleteOverride(tenantId, customer, feature))) throw new TallyError('TALLY_ERR_NOT_FOUND', `no override of ${JSON.stringify(feature)} for this customer`, { field: 'feature' });
        service.forget(tenantId, customer);
        return { status: 200, body: { id: feature, deleted: true } };
      },
    },
    {
      method: 'POST',
      pattern: '/v1/customers/:id/entitlement_grants',
      access: 'tenant',
      doc: {
        operationId: 'grantEntitlement',
        tag: 'Entitlements',
        summary: 'Grant extra units of a metered feature until they expire',
        description: "The units add to the feature's limit from now until `expires_at`, whatever window they fall in.",
        body: { name: 'CreateEntitlementGrant', schema: CreateEntitlementGrant },
        path: CUSTOMER_ID,
        responses: { 201: json('The grant.', EntitlementGrant) },
      },
      handler: async (req) => {
        const tenantId = tenantOf(req);
        const customer = req.params.id!;
        const input = jsonBody(req, CreateEntitlementGrant);
        const now = deps.clock();
        if (parseTimestamp(input.expires_at)! <= now) throw new TallyError('TALLY_ERR_INVALID_VALUE', 'expires_at must be in the future', { field: 'expires_at' });
        await customerOf(tenantId, customer);
        const grant = await store.grant(tenantId, customer, input, new Date(now));
        service.forget(tenantId, customer);
        return { status: 201, body: grant };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/customers/:id/entitlement_grants',
      access: 'tenant',
      doc: { operationId: 'listEntitlementGrants', tag: 'Entitlements', summary: "The customer's grants, newest first (expired ones too)", path: CUSTOMER_ID, responses: { 200: json('The grants.', EntitlementGrantList) } },
      handler: async (req) => {
        const tenantId = tenantOf(req);
        await customerOf(tenantId, req.params.id!);
        return { status: 200, body: { data: await store.grants(tenantId, req.params.id!) } };
      },
    },
  ];
}
