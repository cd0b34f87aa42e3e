import { arr, decimal, instant, nullable, obj, oneOfStrings, shape, str } from '../http/openapi-shapes.js';

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

// balance.ts BalanceAlertsView
export const BalanceAlerts = shape(
  'BalanceAlerts',
  obj({
    customer: str(),
    low_balance_threshold: nullable(decimal('balance.low fires when the balance is at or below it; null: no balance alerts.')),
    fired: arr(obj({ kind: oneOfStrings(['low', 'depleted']), period_start: instant, threshold: decimal(), balance: decimal(), fired_at: instant })),
  }),
);
