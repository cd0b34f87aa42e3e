import { z } from 'zod';
import { METER_KEY, METER_KEY_RULE } from '../core/meter-key.js';
import type { PostgresStore } from '../core/postgres.js';
import { LINE_TEXT, LINE_TEXT_RULE } from '../core/display-text.js';

/**
 * Meters: a key that events name, and the rule that turns those events into usage.
 *
 * - `sum`, `max`, `min`, `latest`, `weighted_sum` read a number: the event's `value`, or when
 *   it has none, the property named by `value_property` (how CloudEvents carry it).
 * - `count` counts events; `unique_count` counts distinct values of `value_property` (or of
 *   `value` when none is named).
 * - `group_by` names properties whose values split the usage into groups.
 *
 * The rule of a meter never changes once events are counted under it; only its name and unit
 * can be edited. A different rule is a new meter.
 */
export const AGGREGATIONS = ['sum', 'count', 'max', 'min', 'unique_count', 'latest', 'weighted_sum'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

export interface Meter {
  key: string;
  name: string;
  aggregation: Aggregation;
  value_property: string | null;
  unit: string | null;
  group_by: string[];
  created_at: string;
  updated_at: string;
}

const PROPERTY = /^[^\u0000-\u001f\u007f]{1,128}$/;

const property = z.string().regex(PROPERTY, 'must be a property name of 1 to 128 characters without control characters');

export const CreateMeter = z
  .strictObject({
    key: z.string().regex(METER_KEY, METER_KEY_RULE),
    name: z.string().trim().min(1, 'must not be empty').max(200).regex(LINE_TEXT, LINE_TEXT_RULE),
    aggregation: z.enum(AGGREGATIONS),
    value_property: property.optional(),
    unit: z.string().trim().min(1, 'must not be empty').max(32).regex(LINE_TEXT, LINE_TEXT_RULE).optional(),
    group_by: z.array(property).max(5, 'at most 5 properties').optional(),
  })
  .superRefine((m, ctx) => {
    if (m.aggregation === 'count' && m.value_property !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['value_property'], message: 'count meters count events and read no value; leave it out' });
    }
    const groups = m.group_by ?? [];
    if (new Set(groups).size !== groups.length) ctx.addIssue({ code: 'custom', path: ['group_by'], message: 'must not name a property twice' });
  });
export type CreateMeterInput = z.output<typeof CreateMeter>;

export const UpdateMeter = z
  .object({
    name: z.string().trim().min(1, 'must not be empty').max(200).regex(LINE_TEXT, LINE_TEXT_RULE).optional(),
    unit: z.string().trim().min(1, 'must not be empty').max(32).regex(LINE_TEXT, LINE_TEXT_RULE).nullable().optional(),
  })
  .catchall(z.unknown())
  .superRefine((m, ctx) => {
    for (const k of Object.keys(m)) {
      if (k === 'name' || k === 'unit') continue;
      const immutable = ['key', 'aggregation', 'value_property', 'group_by'].includes(k);
      ctx.addIssue(
        immutable
          ? { code: 'custom', path: [k], message: 'cannot change once a meter exists; create a new meter', params: { code: 'TALLY_ERR_IMMUTABLE_FIELD' } }
          : { code: 'custom', path: [k], message: 'is not a meter field', params: { code: 'TALLY_ERR_UNKNOWN_FIELD' } },
      );
    }
  });
export type UpdateMeterInput = { name?: string | undefined; unit?: string | null | undefined };

export interface MeterRecord extends Meter {
  tenant_id: string;
  backfilled_through: string | null;
}

export interface MeterRepository {
  /** Undefined when the tenant already has a meter with this key. */
  create(tenantId: string, input: CreateMeterInput): Promise<Meter | undefined>;
  get(tenantId: string, key: string): Promise<Meter | undefined>;
  list(tenantId: string): Promise<Meter[]>;
  update(tenantId: string, key: string, input: UpdateMeterInput): Promise<Meter | undefined>;
  /** The meter with the aggregator's bookkeeping. */
  record(tenantId: string, key: string): Promise<MeterRecord | undefined>;
  /** Every meter of every tenant, for the aggregator. */
  all(): Promise<MeterRecord[]>;
  markBackfilled(tenantId: string, key: string, through: Date): Promise<void>;
}

/** A meters row: the API shape with timestamps as Dates, plus the aggregator's bookkeeping. */
type Row = Omit<Meter, 'created_at' | 'updated_at'> & { tenant_id: string; created_at: Date; updated_at: Date; backfilled_through: Date | null };

const COLUMNS = 'tenant_id, key, name, aggregation, value_property, unit, group_by, created_at, updated_at, backfilled_through';

function toMeter(r: Row): Meter {
  return {
    key: r.key,
    name: r.name,
    aggregation: r.aggregation,
    value_property: r.value_property,
    unit: r.unit,
    group_by: r.group_by,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}

function toRecord(r: Row): MeterRecord {
  return { ...toMeter(r), tenant_id: r.tenant_id, backfilled_through: r.backfilled_through?.toISOString() ?? null };
}

export function pgMeterRepository(pg: PostgresStore): MeterRepository {
  return {
    async create(tenantId, m) {
      const { rows } = await pg.query<Row>(
        `INSERT INTO meters (tenant_id, key, name, aggregation, value_property, unit, group_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, key) DO NOTHING RETURNING ${COLUMNS}`,
        [tenantId, m.key, m.name, m.aggregation, m.value_property ?? null, m.unit ?? null, m.group_by ?? []],
      );
      return rows[0] === undefined ? undefined : toMeter(rows[0]);
    },
    async get(tenantId, key) {
      const { rows } = await pg.query<Row>(`SELECT ${COLUMNS} FROM meters WHERE tenant_id = $1 AND key = $2`, [tenantId, key]);
      return rows[0] === undefined ? undefined : toMeter(rows[0]);
    },
    async list(tenantId) {
      const { rows } = await pg.query<Row>(`SELECT ${COLUMNS} FROM meters WHERE tenant_id = $1 ORDER BY key`, [tenantId]);
      return rows.map(toMeter);
    },
    async update(tenantId, key, u) {
      const { rows } = await pg.query<Row>(
        `UPDATE meters SET name = COALESCE($3, name), unit = CASE WHEN $4::boolean THEN $5 ELSE unit END, updated_at = now()
         WHERE tenant_id = $1 AND key = $2 RETURNING ${COLUMNS}`,
        [tenantId, key, u.name ?? null, u.unit !== undefined, u.unit ?? null],
      );
      return rows[0] === undefined ? undefined : toMeter(rows[0]);
    },
    async record(tenantId, key) {
      const { rows } = await pg.query<Row>(`SELECT ${COLUMNS} FROM meters WHERE tenant_id = $1 AND key = $2`, [tenantId, key]);
      return rows[0] === undefined ? undefined : toRecord(rows[0]);
    },
    async all() {
      const { rows } = await pg.query<Row>(`SELECT ${COLUMNS} FROM meters ORDER BY tenant_id, key`);
      return rows.map(toRecord);
    },
    async markBackfilled(tenantId, key, through) {
      await pg.query('UPDATE meters SET backfilled_through = $3 WHERE tenant_id = $1 AND key = $2', [tenantId, key, through]);
    },
  };
}
