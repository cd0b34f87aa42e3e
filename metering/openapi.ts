import { arr, decimal, instant, list, nullable, obj, oneOfStrings, shape, str, strings } from '../http/openapi-shapes.js';
import { AGGREGATIONS } from './meters.js';

/** What the meter and usage routes answer, for the OpenAPI document. */

// meters.ts Meter
export const Meter = shape(
  'Meter',
  obj({
    key: str(),
    name: str(),
    aggregation: oneOfStrings(AGGREGATIONS),
    value_property: nullable(str()),
    unit: nullable(str()),
    group_by: strings,
    created_at: instant,
    updated_at: instant,
  }),
);
export const MeterList = list(Meter, true);

// usage-route.ts and usage.ts UsageRow
export const Usage = shape(
  'Usage',
  obj({
    meter: str(),
    aggregation: oneOfStrings(AGGREGATIONS),
    from: instant,
    to: instant,
    window: oneOfStrings(['hour', 'day', 'month', 'none']),
    tz: str(),
    complete: { type: 'boolean', description: 'False while the range holds events the aggregator has not counted yet.' },
    aggregated_through: instant,
    data: arr(obj({ window_start: instant, window_end: instant, customer: str(), value: decimal(), groups: { type: 'object', additionalProperties: str() } }, ['groups'])),
    next_page_token: nullable(str()),
  }),
);
