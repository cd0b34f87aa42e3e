import type { ClickHouseStore } from '../core/clickhouse.js';
import { TallyError } from '../core/errors.js';
import { tenantOf, type Route } from '../http/types.js';
import { listLimit, queryText } from '../http/body.js';
import { parseTimestamp } from '../core/time.js';
import type { MeterRepository } from './meters.js';
import type { UsageWindow } from './usage.js';
import type { UsageQuerier } from './usage-querier.js';
import { canonicalZone, TimeZones } from './time-zones.js';
import { customerFilter, json, limitParameter } from '../http/openapi-doc.js';
import { instant as dateTime } from '../http/openapi-shapes.js';
import { Usage } from './openapi.js';

const WINDOWS: readonly UsageWindow[] = ['hour', 'day', 'month', 'none'];
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * The hours usage is kept in: the rollups' hour is a ClickHouse DateTime (seconds since 1970 in
 * a UInt32), so a range outside these cannot be asked of the store.
 */
export const USAGE_EARLIEST = Date.UTC(1970, 0, 1);
export const USAGE_LATEST = Date.UTC(2106, 0, 1);

/**
 * The longest range one query may cover, per window, in days: a quarter of hours, three years
 * of days, five years of months or in one total (with a day to spare for a range cut at a
 * zone's midnight). Longer ranges are asked for in parts.
 */
export const MAX_SPAN_DAYS: Readonly<Record<UsageWindow, number>> = { hour: 93, day: 1_097, month: 1_828, none: 1_828 };

const zones = new TimeZones({ earliest: USAGE_EARLIEST, latest: USAGE_LATEST });

export interface UsageRouteDeps {
  usage: UsageQuerier;
  /** For the store's own list of time zones (a zone it does not know is a 400, not a 500). */
  ch: ClickHouseStore;
  meters: MeterRepository;
  /** The meter's watermark (aggregator-state.ts readMeterWatermark): events made visible after it are not in its rollups yet. */
  watermark: (tenantId: string, meterKey: string) => Promise<Date>;
}

/**
 * `GET /v1/usage?meter=&from=&to=[&customer=][&window=][&tz=][&group_by=a,b][&limit=][&page_token=]`.
 * `complete: false` says the range has events the aggregator has not counted yet, so the
 * numbers are not final; nothing is ever silently short.
 */
export function usageRoute(deps: UsageRouteDeps): Route {
  const storeZones = zonesOfStore(deps.ch);
  return {
    method: 'GET',
    pattern: '/v1/usage',
    access: 'tenant',
    doc: {
      operationId: 'getUsage',
      tag: 'Usage',
      summary: "A meter's usage over a range, in windows",
      query: [
        { name: 'meter', required: true, description: 'The meter key.', schema: { type: 'string' } },
        { name: 'from', required: true, description: 'Start of `[from, to)`, RFC 3339 on a whole hour, from 1970-01-01T00:00:00Z.', schema: dateTime },
        { name: 'to', required: true, description: 'End of the range, on a whole hour, until 2106-01-01T00:00:00Z; at most 93 days after `from` with `window=hour`, 1,097 with `day`, 1,828 with `month` or `none`.', schema: dateTime },
        customerFilter,
        { name: 'window', description: 'Window size.', schema: { type: 'string', enum: ['hour', 'day', 'month', 'none'], default: 'none' } },
        { name: 'tz', description: 'IANA time zone of day and month windows (whole-hour offsets), any spelling; answered under its canonical name.', schema: { type: 'string', default: 'UTC' } },
        { name: 'group_by', description: "Comma-separated properties from the meter's `group_by`.", schema: { type: 'string' } },
        limitParameter(1000, 10_000),
        { name: 'page_token', description: '`next_page_token` of the previous page.', schema: { type: 'string' } },
      ],
      responses: { 200: json('Usage rows, ordered by window and customer.', Usage) },
      errors: ['TALLY_ERR_NOT_FOUND', 'TALLY_ERR_RANGE_TOO_LONG'],
    },
    handler: async (req) => {
      const tenantId = tenantOf(req);
      const q = req.query;
      const meterKey = required(q, 'meter');
      const from = instant(q, 'from');
      const to = instant(q, 'to');
      if (to.getTime() <= from.getTime()) throw bad('to', 'must be after from');
      const window = (q.get('window') ?? 'none') as UsageWindow;
      if (!WINDOWS.includes(window)) throw bad('window', `must be one of ${WINDOWS.join(', ')}`);
      if (to.getTime() - from.getTime() > MAX_SPAN_DAYS[window] * DAY_MS) {
        throw new TallyError('TALLY_ERR_RANGE_TOO_LONG', `to is more than ${MAX_SPAN_DAYS[window]} days after from, the most one query with window=${window} covers; ask for the range in parts`, { field: 'to' });
      }
      const tz = timeZone(q.get('tz') ?? 'UTC', from, to, window);
      // Intl knows a few zones ClickHouse's own database lacks (the SystemV/ aliases, new ones).
      if (!(await storeZones()).has(tz)) throw bad('tz', `${tz} is not a time zone the usage store knows`);
      const limit = listLimit(req, 1000, 10_000);
      const offset = pageOffset(q.get('page_token'));

      const meter = await deps.meters.record(tenantId, meterKey);
      if (meter === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', `no meter with key ${JSON.stringify(meterKey)}`, { field: 'meter' });
      const groupBy = (q.get('group_by') ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
      for (const g of groupBy) {
        if (!meter.group_by.includes(g)) throw bad('group_by', `${JSON.stringify(g)} is not a group_by property of meter ${meter.key} (${meter.group_by.join(', ') || 'none'})`);
      }
      const customer = queryText(req, 'customer');

      const watermark = await deps.watermark(tenantId, meter.key);
      const backfilled = meter.backfilled_through !== null;
      const [{ rows, hasMore }, pending] = await Promise.all([
        deps.usage.usage({ tenantId, meter, customer, from, to, window, tz, groupBy, limit, offset }),
        deps.usage.pendingEvents(tenantId, meter.key, from, to, watermark),
      ]);
      return {
        status: 200,
        body: {
          meter: meter.key,
          aggregation: meter.aggregation,
          from: from.toISOString(),
          to: to.toISOString(),
          window,
          tz,
          complete: backfilled && !pending,
          aggregated_through: watermark.toISOString(),
          data: rows,
          next_page_token: hasMore ? Buffer.from(String(offset + limit)).toString('base64url') : null,
        },
      };
    },
  };
}

function bad(field: string, message: string): TallyError {
  return new TallyError('TALLY_ERR_INVALID_VALUE', `${field} ${message}`, { field });
}

function required(q: URLSearchParams, field: string): string {
  const v = q.get(field);
  if (v === null || v === '') throw new TallyError('TALLY_ERR_MISSING_FIELD', `${field} is required`, { field });
  return v;
}

/** An RFC 3339 instant on a whole UTC hour (usage is kept per hour) within the hours the store holds. */
function instant(q: URLSearchParams, field: string): Date {
  const text = required(q, field);
  const ms = parseTimestamp(text);
  if (ms === undefined) throw bad(field, 'must be an RFC 3339 timestamp with a time zone, in years 0000 to 9999 UTC');
  if (ms % HOUR_MS !== 0) throw bad(field, 'must be on a whole hour: usage is kept per hour');
  if (ms < USAGE_EARLIEST || ms > USAGE_LATEST) throw bad(field, `must be from ${new Date(USAGE_EARLIEST).toISOString()} to ${new Date(USAGE_LATEST).toISOString()}: usage is kept for those hours`);
  return new Date(ms);
}

function pageOffset(token: string | null): number {
  if (token === null || token === '') return 0;
  const text = /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, 'base64url').toString('utf8') : '';
  if (!/^\d{1,15}$/.test(text)) throw bad('page_token', 'is not a token this API returned');
  return Number(text);
}

/**
 * The zone's canonical name (what ClickHouse knows: `utc` is `UTC`). It must exist, and for
 * day and month windows its offset must be whole hours across the range: hourly usage cannot
 * be cut at a boundary that falls inside an hour.
 */
function timeZone(tz: string, from: Date, to: Date, window: UsageWindow): string {
  const zone = canonicalZone(tz);
  if (zone === undefined) throw bad('tz', `${JSON.stringify(tz)} is not an IANA time zone`);
  if ((window === 'day' || window === 'month') && zones.hasFractionalOffset(zone, from.getTime(), to.getTime())) {
    throw bad('tz', `${zone} is offset from UTC by a fraction of an hour in this range; day and month windows need whole-hour offsets`);
  }
  return zone;
}

/** The store's time zones, read once (a failed read is tried again by the next query). */
function zonesOfStore(ch: ClickHouseStore): () => Promise<ReadonlySet<string>> {
  let zones: Promise<ReadonlySet<string>> | undefined;
  return () => {
    zones ??= ch.client
      .query({ query: 'SELECT time_zone FROM system.time_zones', format: 'JSONEachRow' })
      .then((rs) => rs.json<{ time_zone: string }>())
      .then((rows) => new Set(rows.map((r) => r.time_zone)));
    zones.catch(() => {
      zones = undefined;
    });
    return zones;
  };
}
