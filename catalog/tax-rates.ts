import { Dec } from '../core/money.js';
import { z } from 'zod';
import { TallyError } from '../core/errors.js';
import { isCountry } from '../core/country.js';
import { newId } from '../core/ids.js';
import type { PostgresStore, Queryable } from '../core/postgres.js';
import { LINE_TEXT, LINE_TEXT_RULE } from '../core/display-text.js';

/**
 * Tax rates by country and, optionally, region. An invoice is taxed at its customer's rate:
 * the rate of the customer's country and region when one exists, else its country's; none for
 * a tax-exempt customer or a country without a rate. Tax is exclusive (added on top).
 */
export const CreateTaxRate = z.strictObject({
  country: z
    .string()
    .transform((c) => c.toUpperCase())
    .refine(isCountry, 'must be an ISO 3166-1 alpha-2 country code such as US or DE'),
  region: z
    .string()
    .trim()
    .transform((r) => r.toUpperCase())
    .pipe(z.string().regex(/^[A-Z0-9-]{1,10}$/, 'must be a region code such as CA or BY'))
    .optional(),
  percent: z
    .string()
    // abort: zod runs later checks after a failed one, and the range check needs a decimal.
    .regex(/^\d{1,3}(\.\d{1,4})?$/, { message: 'must be a decimal string such as "8.25"', abort: true })
    .refine((p) => new Dec(p).gt(0) && new Dec(p).lte(100), 'must be above 0 and at most 100'),
  name: z.string().trim().min(1).max(100).regex(LINE_TEXT, LINE_TEXT_RULE),
});

export interface TaxRate {
  id: string;
  country: string;
  region: string | null;
  percent: string;
  name: string;
  created_at: string;
}

interface Row {
  tenant_id: string;
  id: string;
  country: string;
  region: string;
  percent: string;
  name: string;
  created_at: Date;
}

const toRate = (r: Row): TaxRate => ({ id: r.id, country: r.country, region: r.region === '' ? null : r.region, percent: new Dec(r.percent).toFixed(), name: r.name, created_at: r.created_at.toISOString() });

export class TaxRateService {
  constructor(private readonly pg: PostgresStore) {}

  async create(tenantId: string, t: z.output<typeof CreateTaxRate>): Promise<TaxRate> {
    const { rows } = await this.pg.query<Row>(
      `INSERT INTO tax_rates (tenant_id, id, country, region, percent, name) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (tenant_id, country, region) DO NOTHING RETURNING tenant_id, id, country, region, percent::text AS percent, name, created_at`,
      [tenantId, newId('txr'), t.country, t.region ?? '', t.percent, t.name],
    );
    if (rows[0] === undefined) throw new TallyError('TALLY_ERR_ALREADY_EXISTS', `${t.country}${t.region === undefined ? '' : `-${t.region}`} already has a tax rate`, { field: 'country' });
    return toRate(rows[0]);
  }

  async list(tenantId: string): Promise<TaxRate[]> {
    const { rows } = await this.pg.query<Row>('SELECT tenant_id, id, country, region, percent::text AS percent, name, created_at FROM tax_rates WHERE tenant_id = $1 ORDER BY country, region', [tenantId]);
    return rows.map(toRate);
  }
}

export interface Taxable {
  tenantId: string;
  country: string | null;
  region: string | null;
  taxExempt: boolean;
}

/** A lookup of the rate each customer pays (undefined: none), over the given tenants' rates. */
export async function taxRatesFor(q: Queryable, tenantIds: readonly string[]): Promise<(c: Taxable) => { name: string; percent: string } | undefined> {
  const { rows } = await q.query<Row>('SELECT tenant_id, id, country, region, percent::text AS percent, name, created_at FROM tax_rates WHERE tenant_id = ANY($1)', [[...new Set(tenantIds)]]);
  const by = new Map(rows.map((r) => [`${r.tenant_id}\n${r.country}\n${r.region}`, { name: r.name, percent: new Dec(r.percent).toFixed() }]));
  return (c) => {
    if (c.taxExempt || c.country === null) return undefined;
    return (c.region === null ? undefined : by.get(`${c.tenantId}\n${c.country}\n${c.region}`)) ?? by.get(`${c.tenantId}\n${c.country}\n`);
  };
}
