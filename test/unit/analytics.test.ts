import { describe, expect, it } from 'vitest';
import { minorUnits } from '../../core/currency.js';
import { churnRate, isPaying, movementRow, movements, mrrRow, planAt, revenueAt, type Dec, type SubscriptionHistory } from '../../analytics/mrr.js';

/**
 * The recurring-revenue core: which subscriptions pay at an instant, MRR per currency with its
 * rounding, the movements between two instants, and (on random histories) the exact identity
 * starting + new + expansion − contraction − churned = ending.
 */
const D = (s: string) => new Date(s);
const AT = D('2025-06-01T00:00:00Z');
const FROM = D('2025-03-01T00:00:00Z');

type PlanSpec = [effectiveFrom: string, fee: string, interval?: 'month' | 'year'];

let serial = 0;
function sub(customer: string, currency: string, start: string, plans: PlanSpec[], extra: { trialEnd?: string; canceledAt?: string } = {}): SubscriptionHistory {
  serial++;
  return {
    id: `sub_${serial}`,
    customer,
    currency,
    startDate: D(start),
    trialEnd: extra.trialEnd === undefined ? null : D(extra.trialEnd),
    canceledAt: extra.canceledAt === undefined ? null : D(extra.canceledAt),
    plans: plans.map(([from, fee, interval = 'month'], i) => ({ effectiveFrom: D(from), plan: { code: `p${i}`, version: 1, interval, baseFee: fee } })),
  };
}
const monthly = (customer: string, fee: string, currency = 'USD') => sub(customer, currency, '2025-01-01T00:00:00Z', [['2025-01-01T00:00:00Z', fee]]);
const yearly = (customer: string, fee: string, currency = 'USD') => sub(customer, currency, '2025-01-01T00:00:00Z', [['2025-01-01T00:00:00Z', fee, 'year']]);

describe('paying subscriptions', () => {
  it.each([
    ['started before, no trial, not canceled', sub('a', 'USD', '2025-01-01T00:00:00Z', [['2025-01-01T00:00:00Z', '10']]), true],
    ['starting exactly at the instant', sub('a', 'USD', '2025-06-01T00:00:00Z', [['2025-06-01T00:00:00Z', '10']]), true],
    ['starting a millisecond after', sub('a', 'USD', '2025-06-01T00:00:00.001Z', [['2025-06-01T00:00:00.001Z', '10']]), false],
    ['canceled exactly at the instant', sub('a', 'USD', '2025-01-01T00:00:00Z', [['2025-01-01T00:00:00Z', '10']], { canceledAt: '2025-06-01T00:00:00Z' }), false],
    ['canceled a millisecond later (a cancellation scheduled at a period end)', sub('a', 'USD', '2025-01-01T00:00:00Z', [['2025-01-01T00:00:00Z', '10']], { canceledAt: '2025-06-01T00:00:00.001Z' }), true],
    ['trial ending exactly at the instant', sub('a', 'USD', '2025-05-18T00:00:00Z', [['2025-05-18T00:00:00Z', '10']], { trialEnd: '2025-06-01T00:00:00Z' }), true],
    ['trial ending a millisecond later', sub('a', 'USD', '2025-05-18T00:00:00Z', [['2025-05-18T00:00:00Z', '10']], { trialEnd: '2025-06-01T00:00:00.001Z' }), false],
  ])('%s', (_what, s, expected) => {
    expect(isPaying(s, AT)).toBe(expected);
  });

  it('takes the plan with the latest effective_from not after the instant, whatever the order given', () => {
    const s = sub('a', 'USD', '2025-01-01T00:00:00Z', [
      ['2025-07-01T00:00:00Z', '30'],
      ['2025-01-01T00:00:00Z', '10'],
      ['2025-06-01T00:00:00Z', '20'],
    ]);
    expect(planAt(s, D('2025-05-31T23:59:59.999Z'))?.baseFee).toBe('10');
    expect(planAt(s, AT)?.baseFee).toBe('20');
    expect(planAt(s, D('2025-07-01T00:00:00Z'))?.baseFee).toBe('30');
    expect(planAt(s, D('2024-12-31T00:00:00Z'))).toBeUndefined();
  });

  it('refuses a paying subscription whose plan in force was not read, rather than count it as zero', () => {
    const s = sub('a', 'USD', '2025-01-01T00:00:00Z', [['2025-07-01T00:00:00Z', '10']]);
    expect(() => revenueAt([s], AT)).toThrow(/no plan in force/);
  });
});

describe('MRR at an instant', () => {
  // Each case: subscriptions, then the rounded rows expected (hand-computed in the message).
  it.each<[string, SubscriptionHistory[], object[]]>([
    [
      'a monthly 49 and a yearly 1000: MRR 49 + 83.3333… = 132.3333… → 132.33, ARR 588 + 1000 = 1588, ARPU 66.1666… → 66.17',
      [monthly('a', '49.00'), yearly('b', '1000.00')],
      [{ currency: 'USD', mrr: '132.33', arr: '1588.00', customers: 2, arpu: '66.17' }],
    ],
    [
      '12 customers making 1234.50: ARR 14814.00, ARPU 102.875 → 102.88 (half-even, 7 is odd)',
      [...Array.from({ length: 11 }, (_, i) => monthly(`c${i}`, '100.00')), monthly('c11', '134.50')],
      [{ currency: 'USD', mrr: '1234.50', arr: '14814.00', customers: 12, arpu: '102.88' }],
    ],
    [
      'a yearly 0.30: MRR 0.025 exactly → 0.02 (a tie goes to the even digit)',
      [yearly('a', '0.30')],
      [{ currency: 'USD', mrr: '0.02', arr: '0.30', customers: 1, arpu: '0.02' }],
    ],
    [
      'a yearly 0.90: MRR 0.075 → 0.08 (7 is odd)',
      [yearly('a', '0.90')],
      [{ currency: 'USD', mrr: '0.08', arr: '0.90', customers: 1, arpu: '0.08' }],
    ],
    [
      'three yearly 0.10: 3 × 0.008333… is exactly 0.025 → 0.02 (summed before dividing, never rounded per customer), ARPU 0.00833… → 0.01',
      [yearly('a', '0.10'), yearly('b', '0.10'), yearly('c', '0.10')],
      [{ currency: 'USD', mrr: '0.02', arr: '0.30', customers: 3, arpu: '0.01' }],
    ],
    [
      'ARR is rounded after multiplying: a monthly 9.995 is MRR 10.00 (half-even) but ARR 119.94, not 120.00',
      [monthly('a', '9.995')],
      [{ currency: 'USD', mrr: '10.00', arr: '119.94', customers: 1, arpu: '10.00' }],
    ],
    [
      'JPY has no minor unit: 5000 monthly + 10000 yearly = 5833.33… → 5833, ARPU 2916.66… → 2917',
      [monthly('a', '5000', 'JPY'), yearly('b', '10000', 'JPY')],
      [{ currency: 'JPY', mrr: '5833', arr: '70000', customers: 2, arpu: '2917' }],
    ],
    [
      'BHD has 3: a yearly 100 is 8.333',
      [yearly('a', '100', 'BHD')],
      [{ currency: 'BHD', mrr: '8.333', arr: '100.000', customers: 1, arpu: '8.333' }],
    ],
    [
      'one customer with two subscriptions counts once',
      [monthly('a', '49.00'), monthly('a', '199.00')],
      [{ currency: 'USD', mrr: '248.00', arr: '2976.00', customers: 1, arpu: '248.00' }],
    ],
    [
      'currencies are never added, and come ordered by code',
      [monthly('u', '10.00'), monthly('j', '1000', 'JPY'), monthly('e', '7.50', 'EUR')],
      [
        { currency: 'EUR', mrr: '7.50', arr: '90.00', customers: 1, arpu: '7.50' },
        { currency: 'JPY', mrr: '1000', arr: '12000', customers: 1, arpu: '1000' },
        { currency: 'USD', mrr: '10.00', arr: '120.00', customers: 1, arpu: '10.00' },
      ],
    ],
    [
      'a currency with only free plans: 0 customers, no ARPU',
      [monthly('a', '0')],
      [{ currency: 'USD', mrr: '0.00', arr: '0.00', customers: 0, arpu: null }],
    ],
    [
      'trials, cancellations and subscriptions not started yet are left out; the plan change in force counts',
      [
        sub('t', 'USD', '2025-05-20T00:00:00Z', [['2025-05-20T00:00:00Z', '49']], { trialEnd: '2025-06-03T00:00:00Z' }),
        sub('x', 'USD', '2025-01-01T00:00:00Z', [['2025-01-01T00:00:00Z', '49']], { canceledAt: '2025-04-20T00:00:00Z' }),
        sub('f', 'USD', '2025-07-01T00:00:00Z', [['2025-07-01T00:00:00Z', '49']]),
        sub('c', 'USD', '2025-01-01T00:00:00Z', [['2025-01-01T00:00:00Z', '49'], ['2025-04-10T00:00:00Z', '199'], ['2025-06-15T00:00:00Z', '999']]),
      ],
      [{ currency: 'USD', mrr: '199.00', arr: '2388.00', customers: 1, arpu: '199.00' }],
    ],
    ['nothing paying: no entry at all', [sub('t', 'USD', '2025-05-20T00:00:00Z', [['2025-05-20T00:00:00Z', '49']], { trialEnd: '2025-06-03T00:00:00Z' })], []],
  ])('%s', (_what, subs, expected) => {
    expect(revenueAt(subs, AT).map(mrrRow)).toEqual(expected);
  });
});

describe('MRR movements', () => {
  it('classifies each customer by its MRR at from and at to', () => {
    const subs = [
      // a: 100 → 100, flat.
      monthly('a', '100'),
      // b: 100 → 250, expansion 150 (a second subscription).
      monthly('b', '100'),
      sub('b', 'USD', '2025-04-01T00:00:00Z', [['2025-04-01T00:00:00Z', '150']]),
      // c: 300 → 120, contraction 180 (a downgrade).
      sub('c', 'USD', '2025-01-01T00:00:00Z', [['2025-01-01T00:00:00Z', '300'], ['2025-05-01T00:00:00Z', '120']]),
      // d: 80 → 0, churned (canceled).
      sub('d', 'USD', '2025-01-01T00:00:00Z', [['2025-01-01T00:00:00Z', '80']], { canceledAt: '2025-04-01T00:00:00Z' }),
      // e: 0 → 60, new.
      sub('e', 'USD', '2025-04-01T00:00:00Z', [['2025-04-01T00:00:00Z', '60']]),
      // f: in a trial at from, 40 at to: new.
      sub('f', 'USD', '2025-02-20T00:00:00Z', [['2025-02-20T00:00:00Z', '40']], { trialEnd: '2025-03-06T00:00:00Z' }),
      // g: a free plan at from, 30 at to: new (its MRR was 0).
      sub('g', 'USD', '2025-01-01T00:00:00Z', [['2025-01-01T00:00:00Z', '0'], ['2025-05-01T00:00:00Z', '30']]),
      // h: 50 at from, moved to a free plan: churned, though still subscribed.
      sub('h', 'USD', '2025-01-01T00:00:00Z', [['2025-01-01T00:00:00Z', '50'], ['2025-05-01T00:00:00Z', '0']]),
    ];
    // starting 100+100+300+80+50 = 630; new 60+40+30 = 130; expansion 150; contraction 180;
    // churned 80+50 = 130; ending 100+250+120+60+40+30 = 600 = 630+130+150−180−130.
    expect(movements(subs, FROM, AT).map(movementRow)).toEqual([
      { currency: 'USD', starting_mrr: '630.00', new: '130.00', expansion: '150.00', contraction: '180.00', churned: '130.00', ending_mrr: '600.00', customers_at_start: 5, churned_customers: 2, churn_rate: '0.4000' },
    ]);
  });

  it('gives a currency that appears or disappears its own entry, and no churn rate without customers at the start', () => {
    const subs = [sub('j', 'JPY', '2025-04-01T00:00:00Z', [['2025-04-01T00:00:00Z', '10000', 'year']]), sub('e', 'EUR', '2025-01-01T00:00:00Z', [['2025-01-01T00:00:00Z', '9.99']], { canceledAt: '2025-05-01T00:00:00Z' })];
    expect(movements(subs, FROM, AT).map(movementRow)).toEqual([
      { currency: 'EUR', starting_mrr: '9.99', new: '0.00', expansion: '0.00', contraction: '0.00', churned: '9.99', ending_mrr: '0.00', customers_at_start: 1, churned_customers: 1, churn_rate: '1.0000' },
      { currency: 'JPY', starting_mrr: '0', new: '833', expansion: '0', contraction: '0', churned: '0', ending_mrr: '833', customers_at_start: 0, churned_customers: 0, churn_rate: null },
    ]);
  });

  it('rounds each figure on its own: the exact figures add up, the rounded ones may be a minor unit off', () => {
    // 8.3333… + 8.3333… = 16.6666…: 8.33 + 8.33 ≠ 16.67.
    const subs = [yearly('a', '100'), sub('b', 'USD', '2025-04-01T00:00:00Z', [['2025-04-01T00:00:00Z', '100', 'year']])];
    const [m] = movements(subs, FROM, AT);
    expect(m!.starting.plus(m!.new).eq(m!.ending)).toBe(true);
    expect(movementRow(m!)).toMatchObject({ starting_mrr: '8.33', new: '8.33', ending_mrr: '16.67' });
  });

  it.each([
    [1, 3, '0.3333'],
    [2, 3, '0.6667'],
    [1, 32, '0.0312'], // 0.03125: a tie, to the even digit
    [3, 32, '0.0938'], // 0.09375: a tie, 7 is odd
    [0, 5, '0.0000'],
    [5, 5, '1.0000'],
    [0, 0, null],
  ])('churn rate %i of %i is %s', (churned, atStart, expected) => {
    expect(churnRate(churned, atStart)).toBe(expected);
  });
});

// A seeded generator, so a failure can be replayed.
let seed = 20_250_301;
const rnd = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;
const DAY = 86_400_000;
const EPOCH = Date.parse('2024-01-01T00:00:00Z');

function randomFee(): string {
  const kind = int(0, 5);
  if (kind === 0) return '0';
  if (kind === 1) return String(int(1, 999));
  if (kind === 2) return `${int(0, 9999)}.${String(int(0, 99)).padStart(2, '0')}`;
  // Up to 12 decimals, as a plan allows.
  const places = int(1, 12);
  return `${int(0, 99_999)}.${Array.from({ length: places }, () => int(0, 9)).join('')}`;
}

/** Random customers and subscriptions over ~3 years, and the instants at which things happen. */
function randomHistory(): { subs: SubscriptionHistory[]; instants: number[] } {
  const subs: SubscriptionHistory[] = [];
  const instants: number[] = [];
  const customers = int(1, 10);
  for (let c = 0; c < customers; c++) {
    const currency = pick(['USD', 'JPY', 'BHD', 'EUR']);
    for (let k = int(0, 4); k > 0; k--) {
      const start = EPOCH + int(0, 1000) * DAY + int(0, 3) * 3_600_000;
      const interval = pick(['month', 'year'] as const);
      const plans = [{ effectiveFrom: new Date(start), plan: { code: 'p', version: 1, interval, baseFee: randomFee() } }];
      for (let at = start, n = int(0, 4); n > 0; n--) {
        at += int(1, 200) * DAY;
        plans.push({ effectiveFrom: new Date(at), plan: { code: 'p', version: plans.length + 1, interval, baseFee: randomFee() } });
      }
      const trialEnd = rnd() < 0.3 ? start + int(1, 30) * DAY : null;
      const canceledAt = rnd() < 0.4 ? start + int(0, 900) * DAY : null;
      subs.push({ id: `s${subs.length}`, customer: `c${c}`, currency, startDate: new Date(start), trialEnd: trialEnd === null ? null : new Date(trialEnd), canceledAt: canceledAt === null ? null : new Date(canceledAt), plans });
      instants.push(start, ...plans.map((p) => p.effectiveFrom.getTime()));
      if (trialEnd !== null) instants.push(trialEnd);
      if (canceledAt !== null) instants.push(canceledAt);
    }
  }
  return { subs, instants };
}

/** An instant that is often exactly on an event, or a millisecond either side of one. */
function randomInstant(instants: number[]): number {
  if (instants.length === 0 || rnd() < 0.3) return EPOCH + int(0, 1200) * DAY;
  return pick(instants) + pick([-1, 0, 0, 1]);
}

// An independent reference in scaled integers: fee × 10^12, a month's fee × 12 (annual units).
const SCALE = 10n ** 12n;
function scaled(fee: string): bigint {
  const [whole, frac = ''] = fee.split('.');
  return BigInt(whole!) * SCALE + BigInt(frac.padEnd(12, '0'));
}
function referenceAnnual(subs: SubscriptionHistory[], at: number): Map<string, Map<string, bigint>> {
  const out = new Map<string, Map<string, bigint>>();
  for (const s of subs) {
    if (s.startDate.getTime() > at || (s.canceledAt !== null && s.canceledAt.getTime() <= at) || (s.trialEnd !== null && s.trialEnd.getTime() > at)) continue;
    const inForce = s.plans.filter((p) => p.effectiveFrom.getTime() <= at).sort((a, b) => b.effectiveFrom.getTime() - a.effectiveFrom.getTime())[0]!;
    const annual = scaled(inForce.plan.baseFee) * (inForce.plan.interval === 'month' ? 12n : 1n);
    const m = out.get(s.currency) ?? new Map<string, bigint>();
    out.set(s.currency, m);
    m.set(s.customer, (m.get(s.customer) ?? 0n) + annual);
  }
  return out;
}
/** num ÷ den rounded half-even to `places` decimals (num ≥ 0, den > 0), as a fixed string. */
function roundRatio(num: bigint, den: bigint, places: number): string {
  const n = num * 10n ** BigInt(places);
  let q = n / den;
  const twice = 2n * (n % den);
  if (twice > den || (twice === den && q % 2n === 1n)) q++;
  const digits = q.toString().padStart(places + 1, '0');
  return places === 0 ? digits : `${digits.slice(0, -places)}.${digits.slice(-places)}`;
}

describe('movements on random histories', () => {
  it('satisfy starting + new + expansion − contraction − churned = ending exactly, and agree with an integer reference, on 3,000 histories', () => {
    let checked = 0;
    for (let run = 0; run < 3000; run++) {
      const { subs, instants } = randomHistory();
      let a = randomInstant(instants);
      let b = randomInstant(instants);
      if (a === b) b += int(1, 90) * DAY;
      if (a > b) [a, b] = [b, a];
      const from = new Date(a);
      const to = new Date(b);
      const ms = movements(subs, from, to);
      const refFrom = referenceAnnual(subs, a);
      const refTo = referenceAnnual(subs, b);
      expect(ms.map((m) => m.currency), `run ${run}: currencies`).toEqual([...new Set([...refFrom.keys(), ...refTo.keys()])].sort());
      for (const m of ms) {
        const where = `run ${run} ${m.currency} ${from.toISOString()} → ${to.toISOString()}`;
        const identity = m.starting.plus(m.new).plus(m.expansion).minus(m.contraction).minus(m.churned);
        expect(identity.eq(m.ending), `${where}: ${identity.toFixed()} ≠ ${m.ending.toFixed()}`).toBe(true);
        for (const k of ['new', 'expansion', 'contraction', 'churned'] as const) expect(m[k].gte(0), `${where}: ${k} ≥ 0`).toBe(true);

        const start = refFrom.get(m.currency) ?? new Map<string, bigint>();
        const end = refTo.get(m.currency) ?? new Map<string, bigint>();
        const sum = (xs: Iterable<bigint>) => [...xs].reduce((x, y) => x + y, 0n);
        const paying = (xs: Map<string, bigint>) => [...xs.values()].filter((v) => v > 0n).length;
        const churned = [...start].filter(([c, v]) => v > 0n && (end.get(c) ?? 0n) === 0n);
        expect([m.customersAtStart, m.churnedCustomers], `${where}: customers at start, churned`).toEqual([paying(start), churned.length]);
        // The exact amounts, in annual units × 10^12, against the reference.
        const exact = (d: Dec) => d.times(SCALE.toString()).toFixed();
        expect(exact(m.starting), `${where}: starting`).toBe(sum(start.values()).toString());
        expect(exact(m.ending), `${where}: ending`).toBe(sum(end.values()).toString());
        expect(exact(m.churned), `${where}: churned`).toBe(sum(churned.map(([, v]) => v)).toString());
        // The rounded figures: the annual amount ÷ 12, half-even at the minor unit, against integer rounding.
        const places = minorUnits(m.currency);
        const row = movementRow(m);
        expect(row.starting_mrr, `${where}: starting_mrr`).toBe(roundRatio(sum(start.values()), 12n * SCALE, places));
        expect(row.ending_mrr, `${where}: ending_mrr`).toBe(roundRatio(sum(end.values()), 12n * SCALE, places));
        const at = revenueAt(subs, to).find((r) => r.currency === m.currency);
        if (at !== undefined) {
          const mrr = mrrRow(at);
          expect(mrr.mrr, `${where}: /mrr at to agrees with ending_mrr`).toBe(row.ending_mrr);
          expect(mrr.customers, `${where}: customers`).toBe(paying(end));
          expect(mrr.arpu, `${where}: arpu`).toBe(mrr.customers === 0 ? null : roundRatio(sum(end.values()), 12n * SCALE * BigInt(mrr.customers), places));
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(3000);
  });
});
