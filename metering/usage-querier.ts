import type { ClickHouseStore } from '../core/clickhouse.js';
import type { Series } from '../rating/series.js';
import { cumulativeHourly, type UsageRange } from './cumulative.js';
import { liveTotals, type LiveWindow } from './live-usage.js';
import type { Meter, MeterRecord } from './meters.js';
import { pendingEvents, queryUsage, type UsageQuery, type UsageRow } from './usage.js';

export type { UsageRange } from './cumulative.js';

/**
 * Every read of the metered usage (the hourly rollups, usage_hourly_v1, and for parts of hours
 * the first copies of the raw events, raw_events_v1) that the rest of the system makes: the
 * usage API's windows, the rater's cumulative quantities, and which customers' usage changed
 * since an instant. The SQL over those tables stays in metering/; other domains get a
 * UsageQuerier from the wiring (app/) and never build a query over them.
 *
 * "Changed since" compares with the version the aggregator stamps on the rollup rows it
 * writes: the time its run started, so callers keep a margin before their own position.
 */
export interface UsageQuerier {
  /** `GET /v1/usage`: windows of [from, to) per customer and group, one page (see usage.ts). */
  usage(q: UsageQuery): Promise<{ rows: UsageRow[]; hasMore: boolean }>;

  /** Whether raw events of the meter in [from, to) were accepted after `watermark` (so are not counted yet). */
  pendingEvents(tenantId: string, meter: string, from: Date, to: Date, watermark: Date): Promise<boolean>;

  /**
   * Per range (in the order given), the cumulative quantity at the end of every hour that
   * changed it: whole hours from the rollups, the parts of hours where a range starts or ends
   * inside one from the raw events (see cumulative.ts). Ranges without usage get an empty series.
   */
  cumulativeHourly(tenantId: string, meter: Meter, ranges: readonly UsageRange[]): Promise<Series[]>;

  /**
   * Customers' usage of a sum or count meter over their windows [from, to) (epoch ms), in
   * order, counting the raw events the aggregator has not rolled up yet (those visible after
   * `settledThrough`) as soon as they are in the store (see live-usage.ts). Decimal strings.
   */
  liveTotals(meter: MeterRecord, windows: readonly LiveWindow[], settledThrough: Date): Promise<string[]>;

  /** Every (tenant, customer) with rollups written after `since` (epoch ms), with the earliest such hour (epoch ms). */
  customersChangedSince(since: number): Promise<{ tenantId: string; customer: string; firstHour: number }[]>;

  /** For these tenants' customers, the hours (epoch ms) whose rollups were written after `since` (epoch ms). */
  hoursChangedSince(tenantIds: readonly string[], customers: readonly string[], since: number): Promise<{ tenantId: string; customer: string; hours: number[] }[]>;
}

/** The aggregator's version of a rollup row written at `ms` (microseconds, as a UInt64 parameter). */
const versionAt = (ms: number): string => (BigInt(ms) * 1000n).toString();

export function clickhouseUsageQuerier(ch: ClickHouseStore): UsageQuerier {
  return {
    usage: (q) => queryUsage(ch, q),
    pendingEvents: (tenantId, meter, from, to, watermark) => pendingEvents(ch, tenantId, meter, from, to, watermark),
    cumulativeHourly: (tenantId, meter, ranges) => cumulativeHourly(ch, tenantId, meter, ranges),
    liveTotals: (meter, windows, settledThrough) => liveTotals(ch, meter, windows, settledThrough.getTime()),

    async customersChangedSince(since) {
      const rs = await ch.client.query({
        query: `SELECT tenant_id, customer, toUnixTimestamp(min(hour)) AS h FROM ${ch.table('usage_hourly_v1')}
                WHERE version > {v:UInt64} GROUP BY tenant_id, customer`,
        query_params: { v: versionAt(since) },
        format: 'JSONEachRow',
      });
      return (await rs.json<{ tenant_id: string; customer: string; h: number | string }>()).map((r) => ({ tenantId: r.tenant_id, customer: r.customer, firstHour: Number(r.h) * 1000 }));
    },

    async hoursChangedSince(tenantIds, customers, since) {
      const rs = await ch.client.query({
        query: `SELECT tenant_id, customer, groupUniqArray(toUnixTimestamp(hour)) AS hours FROM ${ch.table('usage_hourly_v1')}
                WHERE tenant_id IN {t:Array(String)} AND customer IN {c:Array(String)} AND version > {v:UInt64}
                GROUP BY tenant_id, customer`,
        query_params: { t: [...tenantIds], c: [...customers], v: versionAt(since) },
        format: 'JSONEachRow',
      });
      return (await rs.json<{ tenant_id: string; customer: string; hours: (number | string)[] }>()).map((r) => ({
        tenantId: r.tenant_id,
        customer: r.customer,
        hours: r.hours.map((h) => Number(h) * 1000),
      }));
    },
  };
}
