import { instant, list, nullable, obj, shape, str } from '../http/openapi-shapes.js';

/** What the tenant routes answer (core/tenants.ts `Tenant` and `ApiKeyView`), for the OpenAPI document. */

const tenantProps = { id: str('`ten_...`'), name: str(), created_at: instant };
const apiKeyProps = { id: str('The key id, the middle part of `tly_<key id>_<secret>`.'), created_at: instant, revoked_at: nullable(instant) };

export const Tenant = shape('Tenant', obj(tenantProps));
export const NewTenant = shape('NewTenant', obj({ ...tenantProps, api_key: str('The tenant API key, shown only here.') }));
export const ApiKey = shape('ApiKey', obj(apiKeyProps));
export const NewApiKey = shape('NewApiKey', obj({ ...apiKeyProps, api_key: str('The API key (`tly_...`), shown only here.') }));
export const ApiKeyList = list(ApiKey, false);
export const TenantList = list(Tenant, true);
