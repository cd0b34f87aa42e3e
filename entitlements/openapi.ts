import { arr, bool, decimal, instant, obj, oneOfStrings, schemaRef, shape, str, type JsonSchema } from '../http/openapi-shapes.js';

/** What the entitlement routes answer, for the OpenAPI document; each mirrors the type named above it. */

const staticValue: JsonSchema = { anyOf: [{ type: 'string' }, { type: 'number' }] };

// service.ts Entitlement
export const Entitlement = shape(
  'Entitlement',
  obj(
    {
      feature: str(),
      type: oneOfStrings(['boolean', 'static', 'metered']),
      has_access: bool,
      value: { ...staticValue, description: "A static feature's value." },
      limit: decimal("A metered feature's limit in its window, active grants included."),
      hard: { ...bool, description: 'Whether reaching the limit refuses access.' },
      usage: decimal("Usage of the feature's meter in the current window, events shipped by usage_as_of included."),
      remaining: decimal('The limit less the usage, at least 0.'),
      resets_at: { ...instant, description: 'When the window ends.' },
      usage_as_of: { ...instant, description: 'When this answer was worked out (answers are served from memory for TALLY_ENTITLEMENT_CACHE_MS).' },
    },
    ['value', 'limit', 'hard', 'usage', 'remaining', 'resets_at'],
  ),
);
export const EntitlementList = shape('EntitlementList', obj({ customer: str(), data: arr(schemaRef(Entitlement)) }), [Entitlement]);

// store.ts Override
export const EntitlementOverride = shape(
  'EntitlementOverride',
  obj({ customer: str(), feature: str(), limit: { anyOf: [decimal(), { type: 'null' }] }, has_access: { anyOf: [bool, { type: 'null' }] }, value: { anyOf: [staticValue, { type: 'null' }] }, updated_at: instant }),
);

// store.ts EntitlementGrant
export const EntitlementGrant = shape('EntitlementGrant', obj({ id: str(), customer: str(), feature: str(), amount: decimal(), granted_at: instant, expires_at: instant }));
export const EntitlementGrantList = shape('EntitlementGrantList', obj({ data: arr(schemaRef(EntitlementGrant)) }), [EntitlementGrant]);
