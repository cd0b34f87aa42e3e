import { Dec } from '../core/money.js';
import { z } from 'zod';
import { TallyError } from '../core/errors.js';
import { minorUnits } from '../core/currency.js';
import type { PostgresStore, Queryable } from '../core/postgres.js';
import { parseTimestamp } from '../core/time.js';
import { periodAt, type Interval, type Period } from './periods.js';

/**
 * A subscription's commitment (see the 0013 and 0041 migrations): a minimum spend per period
 * and/or a committed-use discount, from the start of the period it is made in until `until`.
 * Setting it again replaces it from the start of the period it is set in; the periods before
 * keep the one that covered them. It covers the periods that overlap [start, until).
 */
export const SetCommitment = z
  .strictObject({
    minimum_spend: z
      .string()
      .regex(/^\d{1,20}(\.\d{1,6})?$/, { message: 'must be a decimal string such as "500.00"', abort: true })
      // A minimum of nothing is no commitment (and what the store refuses): leave it out instead.
      .refine((m) => new Dec(m).gt(0), 'must be above 0')
      .optional(),
    discount_percent: z
      .string()
      // abort: zod runs later checks after a failed one, and the range check needs a decimal.
      .regex(/^\d{1,3}(\.\d{1,4})?$/, { message: 'must be a decimal string such as "20"', abort: true })
      .refine((p) => new Dec(p).gt(0) && new Dec(p).lte(100), 'must be above 0 and at most 100')
      .optional(),
    until: z.string().refine((s) => parseTimestamp(s) !== undefined, 'must be an RFC 3339 timestamp with a time zone'),
  })
  .refine((c) => c.minimum_spend !== undefined || c.discount_percent !== undefined, { message: 'give minimum_spend, discount_percent or both', path: ['minimum_spend'] });

export interface Commitment {
  subscription: string;
  minimum_spend: string | null;
  discount_percent: string | null;
  starts_at: string;
  ends_at: string;
}

interface Row {
  subscription_id: string;
  minimum_spend: string | null;
  discount_percent: string | null;
  starts_at: Date;
  ends_at: Date;
}

const dec = (s: string | null) => (s === null ? null : new Dec(s).toFixed());
const toCommitment = (r: Row): Commitment => ({ subscription: r.subscription_id, minimum_spend: dec(r.minimum_spend), discount_percent: dec(r.discount_percent), starts_at: r.starts_at.toISOString(), ends_at: r.ends_at.toISOString() });
const COLUMNS = 'subscription_id, minimum_spend::text AS minimum_spend, discount_percent::text AS discount_percent, starts_at, ends_at';

export class CommitmentService {
  constructor(private readonly pg: PostgresStore) {}

  async set(tenantId: string, subscriptionId: string, input: z.output<typeof SetCommitment>, actor: string, now: Date): Promise<Commitment> {
    return this.pg.transaction((tx) => this.setIn(tx, tenantId, subscriptionId, input, actor, now));
  }

  private async setIn(tx: Queryable, tenantId: string, subscriptionId: string, input: z.output<typeof SetCommitment>, actor: string, now: Date): Promise<Commitment> {
    // Under the subscription's lock: a cancel, or a close of the period, waits for this one.
    const { rows } = await tx.query<{ start_date: Date; interval: Interval; canceled_at: Date | null; currency: string }>(
      `SELECT s.start_date, s.interval, s.canceled_at, c.currency FROM subscriptions s JOIN customers c ON c.tenant_id = s.tenant_id AND c.id = s.customer_id
        WHERE s.tenant_id = $1 AND s.id = $2 FOR UPDATE OF s`,
      [tenantId, subscriptionId],
    );
    const sub = rows[0];
    if (sub === undefined) throw new TallyError('TALLY_ERR_NOT_FOUND', `no subscription ${JSON.stringify(subscriptionId)}`, { field: 'id' });
    if (sub.canceled_at !== null && sub.canceled_at.getTime() <= now.getTime()) throw new TallyError('TALLY_ERR_INVALID_TRANSITION', 'a canceled subscription cannot take a commitment', { field: 'id' });
    if (input.minimum_spend !== undefined && new Dec(input.minimum_spend).decimalPlaces() > minorUnits(sub.currency)) {
      throw new TallyError('TALLY_ERR_INVALID_VALUE', `${sub.currency} has ${minorUnits(sub.currency)} decimal places; minimum_spend has more`, { field: 'minimum_spend' });
    }
    const starts = periodAt(sub.start_date, sub.interval, now.getTime() < sub.start_date.getTime() ? sub.start_date : now).start;
    const ends = new Date(parseTimestamp(input.until)!);
    if (ends.getTime() <= Math.max(starts.getTime(), now.getTime())) throw new TallyError('TALLY_ERR_INVALID_VALUE', 'until must be in the future', { field: 'until' });
    // The versions before end where this one starts: the periods they covered keep them (one
    // ended but not closed yet is billed with them). One set earlier in this period is replaced.
    await tx.query('UPDATE subscription_commitments SET ends_at = $3 WHERE tenant_id = $1 AND subscription_id = $2 AND starts_at < $3 AND ends_at > $3', [tenantId, subscriptionId, starts]);
    const { rows: saved } = await tx.query<Row>(
      `INSERT INTO subscription_commitments (tenant_id, subscription_id, minimum_spend, discount_percent, starts_at, ends_at, actor) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (tenant_id, subscription_id, starts_at) DO UPDATE SET minimum_spend = EXCLUDED.minimum_spend, discount_percent = EXCLUDED.discount_percent,
         ends_at = EXCLUDED.ends_at, actor = EXCLUDED.actor, created_at = now()
       RETURNING ${COLUMNS}`,
      [tenantId, subscriptionId, input.minimum_spend ?? null, input.discount_percent ?? null, starts, ends, actor],
    );
    return toCommitment(saved[0]!);
  }

  /** The commitment as last set. */
  async get(tenantId: string, subscriptionId: string): Promise<Commitment | undefined> {
    const { rows } = await this.pg.query<Row>(`SELECT ${COLUMNS} FROM subscription_commitments WHERE tenant_id = $1 AND subscription_id = $2 ORDER BY starts_at DESC LIMIT 1`, [
      tenantId,
      subscriptionId,
    ]);
    return rows[0] === undefined ? undefined : toCommitment(rows[0]);
  }
}

/** The commitment covering each (subscription, period), if any. */
export async function commitmentsFor(q: Queryable, targets: readonly { tenantId: string; subscriptionId: string; period: Period }[]): Promise<(i: number) => { minimumSpend: string | null; discountPercent: string | null } | undefined> {
  if (targets.length === 0) return () => undefined;
  const { rows } = await q.query<Row & { tenant_id: string }>(
    `SELECT tenant_id, ${COLUMNS} FROM subscription_commitments WHERE tenant_id = ANY($1) AND subscription_id = ANY($2)`,
    [[...new Set(targets.map((t) => t.tenantId))], targets.map((t) => t.subscriptionId)],
  );
  const by = new Map<string, (Row & { tenant_id: string })[]>();
  for (const r of rows) {
    const key = `${r.tenant_id}\n${r.subscription_id}`;
    by.set(key, [...(by.get(key) ?? []), r]);
  }
  return (i) => {
    const t = targets[i]!;
    // Versions start on period starts and end where the next starts: one covers a period (the
    // latest, should they ever overlap).
    const c = (by.get(`${t.tenantId}\n${t.subscriptionId}`) ?? [])
      .filter((v) => t.period.start.getTime() < v.ends_at.getTime() && t.period.end.getTime() > v.starts_at.getTime())
      .sort((a, b) => b.starts_at.getTime() - a.starts_at.getTime())[0];
    if (c === undefined) return undefined;
    return { minimumSpend: dec(c.minimum_spend), discountPercent: dec(c.discount_percent) };
  };
}
