import { arr, decimal, instant, nullable, obj, shape, str } from '../http/openapi-shapes.js';

/** What the alert routes answer (settings.ts `AlertsView`), for the OpenAPI document. */
export const Alerts = shape(
  'Alerts',
  obj({
    subscription: str(),
    included_percents: arr(decimal()),
    spend: arr(obj({ meter: nullable(str()), amount: decimal() })),
    fired: arr(obj({ meter: nullable(str()), kind: str(), threshold: decimal(), quantity: decimal(), amount: decimal(), fired_at: instant })),
  }),
);
