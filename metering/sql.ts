import type { Aggregation } from './meters.js';

/**
 * SQL pieces of the hourly rollup. Property names travel as query parameters, never as SQL
 * text. The copy order (acceptance time, then a hash of the content) is the one the
 * event_ids_v1 table and the events_v1 view use, so "first copy" means the same everywhere; on the
 * raw table the hash is its `copy_hash` column (migration 0011).
 */
export const COPY_ORDER = 'tuple(ingested_at, copy_hash)';

/** A property as text: strings unquoted, anything else as its JSON. Missing: ''. */
export function propertyText(param: string): string {
  return `if(JSONType(properties, {${param}:String}) = 'String', JSONExtractString(properties, {${param}:String}), JSONExtractRaw(properties, {${param}:String}))`;
}

/**
 * The event's number: `value`, or else the value_property when it holds an exact decimal
 * (at most 6 decimals, below 10^20, as ingest requires of `value`). Anything else is no number.
 */
export function numberExpr(hasValueProperty: boolean): string {
  if (!hasValueProperty) return 'value';
  const text = `trim(BOTH '"' FROM JSONExtractRaw(properties, {vp:String}))`;
  return `coalesce(value, if(match(${text}, '^-?[0-9]{1,20}(\\\\.[0-9]{1,6})?$'), toDecimal128OrNull(${text}, 6), NULL))`;
}

/** What unique_count counts: the value_property's text, or else the value. */
export function uniqueExpr(hasValueProperty: boolean): string {
  return hasValueProperty ? propertyText('vp') : "ifNull(toString(value), '')";
}

export function groupsExpr(count: number): string {
  return `CAST([${Array.from({ length: count }, (_, i) => propertyText(`g${i}`)).join(", ")}] AS Array(String))`;
}

export const EPOCH_KEY = "tuple(toDateTime64(0, 3, 'UTC'), toDateTime64(0, 6, 'UTC'), toUInt64(0))";

/** The value of a window from the hourly columns, per aggregation. */
export function valueExpr(aggregation: Aggregation): string {
  switch (aggregation) {
    case 'sum':
      return 'toString(sum(sum_value))';
    case 'count':
      return 'toString(sum(events))';
    case 'max':
      return 'toString(max(max_value))';
    case 'min':
      return 'toString(min(min_value))';
    case 'latest':
      return 'toString(argMax(latest_value, latest_key))';
    case 'unique_count':
      return 'toString(uniqExactArray(uniq_values))';
    case 'weighted_sum':
      throw new Error('weighted_sum windows are computed by queryGauge, not from one hourly column');
  }
}

/** `YYYY-MM-DD hh:mm:ss.ffffff` (UTC) for a DateTime64(6) parameter. */
export function chTime(d: Date): string {
  const iso = d.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000`;
}
