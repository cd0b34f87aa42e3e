import { Dec } from '../core/money.js';
import type { Stores } from '../core/stores.js';

/**
 * Whether a tenant's invoices bill exactly the rated usage: for every usage line (one per
 * subscription, meter and plan segment), its amount is the sum of the hourly amounts of that
 * segment in ClickHouse's rated usage and its quantity the segment's last cumulative quantity.
 */
export interface CheckReport {
  invoices: number;
  usageLines: number;
  mismatches: string[];
}

export async function checkInvoicesAgainstRated(stores: Stores, tenantId: string): Promise<CheckReport> {
  const { rows: lines } = await stores.postgres.query<{ invoice_id: string; subscription_id: string; meter: string; line_start: Date; quantity: string; amount: string }>(
    `SELECT l.invoice_id, i.subscription_id, l.meter, l.line_start, l.quantity::text AS quantity, l.amount::text AS amount
       FROM invoice_lines l JOIN invoices i ON i.tenant_id = l.tenant_id AND i.id = l.invoice_id
      WHERE l.tenant_id = $1 AND l.type = 'usage'`,
    [tenantId],
  );
  const { rows: count } = await stores.postgres.query<{ n: string }>('SELECT count(*)::text AS n FROM invoices WHERE tenant_id = $1', [tenantId]);
  const rs = await stores.clickhouse.client.query({
    query: `SELECT subscription_id, meter, toUnixTimestamp64Milli(segment_start) AS seg, toString(sum(amount)) AS amount, toString(argMax(quantity, hour)) AS quantity
              FROM ${stores.clickhouse.table('rated_usage_v1')} FINAL WHERE tenant_id = {t:String}
             GROUP BY subscription_id, meter, segment_start`,
    query_params: { t: tenantId },
    format: 'JSONEachRow',
  });
  const rated = new Map<string, { amount: string; quantity: string }>();
  for (const r of await rs.json<{ subscription_id: string; meter: string; seg: string | number; amount: string; quantity: string }>()) {
    rated.set(`${r.subscription_id}\n${r.meter}\n${Number(r.seg)}`, { amount: r.amount, quantity: r.quantity });
  }
  const mismatches: string[] = [];
  for (const l of lines) {
    const r = rated.get(`${l.subscription_id}\n${l.meter}\n${l.line_start.getTime()}`);
    // A segment without usage has no rated rows; its line bills nothing.
    const amount = new Dec(r?.amount ?? '0');
    const quantity = new Dec(r?.quantity ?? '0');
    if (!amount.eq(l.amount) || !quantity.eq(l.quantity)) {
      mismatches.push(`${l.invoice_id} ${l.meter}: invoiced ${l.quantity} for ${l.amount}, rated ${quantity.toFixed()} for ${amount.toFixed()}`);
    }
  }
  return { invoices: Number(count[0]!.n), usageLines: lines.length, mismatches };
}
