import { compileCard, rateSeries } from '../rating/compiled.js';
import { rate, type ChargeCard } from '../rating/core.js';
import { Dec } from '../core/money.js';
import { createRatingPool } from '../rating/pool.js';

/**
 * The rating core of the `rate` benchmark (../shared/BENCH.md): hourly re-rating of one month,
 * `subscriptions` x 3 meters x `hours` cumulative quantities (6 decimals, rising hour by hour)
 * on graduated and volume cards of two plans. Three ways over the same data, in one run:
 *  - the reference: a straightforward loop of decimal.js `rate(card, q).amount` per hour, each
 *    hour's increment subtracted with decimal.js, timed on as many series as fit in about
 *    `referenceSeconds` (it is a rate, so a sample suffices);
 *  - the compiled core (rating/compiled.ts) in this thread, over every series;
 *  - the compiled core on the worker pool (`pool.rateSeries`), over every series, in batches.
 * The unit is hourly ratings (one quantity of one series) per second. Afterwards it checks that
 * both compiled runs give the reference's increments on every series the reference rated, that
 * every total of both equals decimal.js `rate(card, last).amount`, and, in a second untimed pool
 * pass, that the pool's increments equal the in-thread core's on every series.
 */
export interface RatingCoreOptions {
  subscriptions: number;
  hours: number;
  threads: number;
  /** How long to time the reference for (at least 1 s is meaningful). */
  referenceSeconds?: number;
}

export interface RatingCoreResult {
  rows: Record<string, string | number>[];
  ratios: Record<string, number>;
  verified: boolean;
  verification: string;
  /** Hourly ratings per second of the pool. */
  ratingsPerSecond: number;
}

interface Series {
  card: number;
  quantities: string[];
}

/** Series per pool.rateSeries call: small batches keep what is in flight on this thread young and short-lived. */
const POOL_BATCH = 32;

export async function measureRatingCore(opts: RatingCoreOptions): Promise<RatingCoreResult> {
  const { cards, series } = dataset(opts.subscriptions, opts.hours);
  const ratings = series.length * opts.hours;

  // 1. The reference, on series spread over every card, for about referenceSeconds (after a
  // few series to warm it up).
  const referenceSeries = (s: Series): string[] => {
    const card = cards[s.card]!;
    let prev = new Dec(0);
    const added = new Array<string>(s.quantities.length);
    for (let h = 0; h < s.quantities.length; h++) {
      const amount = new Dec(rate(card, s.quantities[h]!).amount);
      added[h] = amount.minus(prev).toFixed(6);
      prev = amount;
    }
    return added;
  };
  for (let i = 0; i < Math.min(cards.length, series.length); i++) referenceSeries(series[i]!);
  const sample: number[] = [];
  const referenceAdded = new Map<number, string[]>();
  const stride = series.length > 97 ? 97 : 1;
  let start = performance.now();
  for (let k = 0; k < series.length && (performance.now() - start < (opts.referenceSeconds ?? 1.5) * 1000 || sample.length < cards.length); k++) {
    const i = (k * stride) % series.length;
    if (referenceAdded.has(i)) break;
    referenceAdded.set(i, referenceSeries(series[i]!));
    sample.push(i);
  }
  const referenceSeconds = (performance.now() - start) / 1000;
  const referenceRatings = sample.length * opts.hours;

  // 2. The compiled core in this thread.
  const coreTotals = new Array<string>(series.length);
  const coreSample = new Map<number, string[]>();
  start = performance.now();
  const compiled = cards.map(compileCard);
  for (let i = 0; i < series.length; i++) {
    const s = series[i]!;
    const r = rateSeries(compiled[s.card]!, s.quantities);
    coreTotals[i] = r.total;
    if (referenceAdded.has(i)) coreSample.set(i, r.added);
  }
  const coreSeconds = (performance.now() - start) / 1000;

  // 3. The compiled core on the worker pool, batches of one card's series, a few in flight.
  const batches = batchesByCard(series, cards.length);
  const pool = createRatingPool({ threads: opts.threads });
  const poolTotals = new Array<string>(series.length);
  const poolSample = new Map<number, string[]>();
  let poolSeconds: number;
  let mismatches = 0;
  let firstMismatch = '';
  try {
    // Start the threads and warm them up on every card before timing: a cold pool measures
    // thread start-up and compilation.
    await inBatches(
      batches.slice(0, opts.threads * cards.length * 2),
      opts.threads * 2,
      async (batch) => void (await pool.rateSeries(cards[batch.card]!, batch.series.map((i) => series[i]!.quantities))),
    );
    start = performance.now();
    await inBatches(batches, opts.threads * 2, async (batch) => {
      const r = await pool.rateSeries(cards[batch.card]!, batch.series.map((i) => series[i]!.quantities));
      batch.series.forEach((i, k) => {
        poolTotals[i] = r.total[k]!;
        if (referenceAdded.has(i)) poolSample.set(i, r.added[k]!);
      });
    });
    poolSeconds = (performance.now() - start) / 1000;

    // Untimed: the pool's increments against the in-thread core's, on every series.
    await inBatches(batches, opts.threads * 2, async (batch) => {
      const r = await pool.rateSeries(cards[batch.card]!, batch.series.map((i) => series[i]!.quantities));
      batch.series.forEach((i, k) => {
        const want = rateSeries(compiled[batch.card]!, series[i]!.quantities).added;
        const got = r.added[k]!;
        for (let h = 0; h < Math.max(want.length, got.length); h++) {
          if (got[h] !== want[h]) {
            if (mismatches++ === 0) firstMismatch = `pool vs core: series ${i} hour ${h}: ${got[h]} != ${want[h]}`;
            break;
          }
        }
      });
    });
  } finally {
    await pool.close();
  }

  // The checks.
  const checks: string[] = [];
  const sampleDiff = (name: string, got: Map<number, string[]>) => {
    for (const i of sample) {
      const want = referenceAdded.get(i)!;
      const have = got.get(i) ?? [];
      const h = want.findIndex((a, k) => have[k] !== a);
      if (h >= 0 || have.length !== want.length) return `${name}: series ${i} hour ${h}: ${have[h]} != ${want[h]}`;
    }
    return undefined;
  };
  const coreSampleDiff = sampleDiff('core', coreSample);
  const poolSampleDiff = sampleDiff('pool', poolSample);
  let totalDiffs = 0;
  let firstTotalDiff = '';
  for (let i = 0; i < series.length; i++) {
    const s = series[i]!;
    const want = s.quantities.length === 0 ? '0.000000' : rate(cards[s.card]!, s.quantities[s.quantities.length - 1]!).amount;
    if (coreTotals[i] !== want || poolTotals[i] !== want) {
      if (totalDiffs++ === 0) firstTotalDiff = `series ${i}: core ${coreTotals[i]}, pool ${poolTotals[i]}, decimal.js ${want}`;
    }
  }
  checks.push(
    coreSampleDiff === undefined && poolSampleDiff === undefined
      ? `core and pool equal the decimal.js reference on all ${referenceRatings} increments of the ${sample.length} series it rated`
      : `differs from the decimal.js reference: ${coreSampleDiff ?? poolSampleDiff ?? ''}`,
  );
  checks.push(totalDiffs === 0 ? `core and pool totals of all ${series.length} series equal decimal.js rate(card, last).amount` : `${totalDiffs} totals differ from decimal.js, e.g. ${firstTotalDiff}`);
  checks.push(mismatches === 0 ? `pool increments equal the in-thread core's on all ${ratings} (second, untimed pass)` : `${mismatches} series differ between pool and core, e.g. ${firstMismatch}`);
  const verified = coreSampleDiff === undefined && poolSampleDiff === undefined && totalDiffs === 0 && mismatches === 0;

  const referenceRate = referenceRatings / referenceSeconds;
  const coreRate = ratings / coreSeconds;
  const poolRate = ratings / poolSeconds;
  const row = (variant: string, n: number, seconds: number) => ({ variant, ratings: n, seconds: Number(seconds.toFixed(3)), 'ratings/s': Math.floor(n / seconds) });
  return {
    rows: [
      row(`decimal.js rate() per hour (reference, ${sample.length} series)`, referenceRatings, referenceSeconds),
      row('compiled core, this thread', ratings, coreSeconds),
      row(`compiled core, pool.rateSeries (${opts.threads} threads)`, ratings, poolSeconds),
    ],
    ratios: { core_vs_decimaljs: coreRate / referenceRate, pool_vs_decimaljs: poolRate / referenceRate },
    verified,
    verification: checks.join('; '),
    ratingsPerSecond: poolRate,
  };
}

/**
 * Two plans of three meters: API calls (graduated with a free tier), storage (volume with flat
 * fees and an allowance) and active users (graduated with a flat fee and a cap). Subscription s
 * is on plan s % 2 and of a size that spreads its quantities over every tier.
 */
function dataset(subscriptions: number, hours: number): { cards: ChargeCard[]; series: Series[] } {
  const cards: ChargeCard[] = [
    { model: 'graduated', tiers: [{ up_to: '100000', unit_price: '0' }, { up_to: '1000000', unit_price: '0.0008' }, { up_to: null, unit_price: '0.0005' }] },
    { model: 'volume', included: '10', tiers: [{ up_to: '1000', unit_price: '0.08', flat_fee: '5' }, { up_to: '10000', unit_price: '0.06', flat_fee: '20' }, { up_to: null, unit_price: '0.04' }] },
    { model: 'graduated', maximum: '500', tiers: [{ up_to: '100', unit_price: '0.5', flat_fee: '10' }, { up_to: null, unit_price: '0.25' }] },
    { model: 'graduated', tiers: [{ up_to: '1000000', unit_price: '0.0004' }, { up_to: '10000000', unit_price: '0.000275' }, { up_to: null, unit_price: '0.000123456789' }] },
    { model: 'volume', tiers: [{ up_to: '5000', unit_price: '0.05' }, { up_to: null, unit_price: '0.035', flat_fee: '12.5' }] },
    { model: 'graduated', tiers: [{ up_to: '250', unit_price: '0', flat_fee: '99' }, { up_to: '1000', unit_price: '0.4' }, { up_to: null, unit_price: '0.3' }] },
  ];
  // Largest hourly increment per meter, x 10^6: calls, GB, users.
  const perHour = [4_000_000_000, 30_000_000, 1_000_000];
  let seed = 20_240_601;
  const rnd = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
  const series: Series[] = [];
  for (let sub = 0; sub < subscriptions; sub++) {
    const size = 0.05 + 3 * rnd();
    for (let m = 0; m < 3; m++) {
      const quantities = new Array<string>(hours);
      let micros = 0;
      for (let h = 0; h < hours; h++) {
        if (rnd() < 0.85) micros += Math.floor(rnd() * perHour[m]! * size);
        quantities[h] = micro6(micros);
      }
      series.push({ card: (sub % 2) * 3 + m, quantities });
    }
  }
  return { cards, series };
}

function micro6(micros: number): string {
  const whole = Math.floor(micros / 1_000_000);
  return `${whole}.${String(micros - whole * 1_000_000).padStart(6, '0')}`;
}

interface Batch {
  card: number;
  series: number[];
}

function batchesByCard(series: readonly Series[], cards: number): Batch[] {
  const open: number[][] = Array.from({ length: cards }, () => []);
  const batches: Batch[] = [];
  series.forEach((s, i) => {
    const list = open[s.card]!;
    list.push(i);
    if (list.length === POOL_BATCH) batches.push({ card: s.card, series: open[s.card]!.splice(0) });
  });
  open.forEach((list, card) => {
    if (list.length > 0) batches.push({ card, series: list });
  });
  return batches;
}

/** Runs f over the batches with at most `inFlight` pending at a time. */
async function inBatches(batches: readonly Batch[], inFlight: number, f: (b: Batch) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < batches.length) await f(batches[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, inFlight) }, lane));
}
