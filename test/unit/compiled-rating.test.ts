import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { rate, type ChargeCard, type Tier } from '../../rating/core.js';
import { amountMicros, compileCard, formatMicros, parseMicros, rateSeries, rateSeriesJoined } from '../../rating/compiled.js';
import { packageRoot } from '../../core/paths.js';

interface Fixture {
  name: string;
  card: ChargeCard;
  quantity: string;
  expected: { amount: string };
}
const fixtures = JSON.parse(readFileSync(path.join(packageRoot(), 'test', 'fixtures', 'rating.json'), 'utf8')) as Fixture[];
const sixDecimals = fixtures.filter((f) => (f.quantity.split('.')[1] ?? '').length <= 6);

describe('compiled rating: golden fixtures', () => {
  it('covers every fixture (none has more than 6 decimals)', () => {
    expect(sixDecimals.length).toBe(fixtures.length);
  });

  it.each(sixDecimals.map((f) => [f.name, f] as const))('%s', (_name, f) => {
    const c = compileCard(f.card);
    expect(formatMicros(amountMicros(c, parseMicros(f.quantity))), 'amountMicros').toBe(f.expected.amount);
    expect(rateSeries(c, [f.quantity]).total, 'rateSeries total').toBe(f.expected.amount);
  });
});

/** The generator of rating.test.ts, widened: 12-decimal and very large prices, 20-digit quantities, cards the catalog would refuse. */
let seed = 11;
const rnd = () => ((seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647);
const int = (n: number) => Math.floor(rnd() * n);
const digits = (n: number) => Array.from({ length: n }, () => String(int(10))).join('');
const dec = (intDigits: number, decimals: number) => {
  const i = intDigits === 0 ? '0' : String(BigInt(digits(intDigits)));
  return decimals === 0 ? i : `${i}.${digits(decimals)}`;
};
const price = () => (rnd() < 0.1 ? dec(1 + int(20), int(13)) : rnd() < 0.3 ? '0' : dec(int(3), int(13)));

function randomCard(): ChargeCard {
  const model = (['per_unit', 'graduated', 'volume', 'package'] as const)[int(4)]!;
  const card: ChargeCard = { model };
  if (rnd() < 0.3) card.included = dec(int(4), int(7));
  if (rnd() < 0.2) card.minimum = dec(3, int(3));
  if (rnd() < 0.2) card.maximum = rnd() < 0.1 ? dec(20, int(13)) : dec(int(5), int(13));
  if (model === 'per_unit' || model === 'package') card.unit_price = price();
  if (model === 'package') {
    card.package_size = rnd() < 0.1 ? `0.${digits(5)}1` : String(1 + int(100)) + (rnd() < 0.3 ? `.${int(1000)}` : '');
    if (rnd() < 0.5) card.round = 'down';
  }
  if (model === 'graduated' || model === 'volume') {
    const n = 1 + int(5);
    let edge = 0n;
    card.tiers = Array.from({ length: n }, (_, i) => {
      edge += rnd() < 0.1 ? BigInt(digits(12)) * 1_000_000n + 1n : BigInt(1 + int(1_000_000_000));
      const t: Tier = { up_to: i === n - 1 ? null : formatMicros(edge).replace(/\.?0+$/, ''), unit_price: price() };
      if (rnd() < 0.3) t.flat_fee = rnd() < 0.1 ? dec(1 + int(20), int(13)) : dec(2, int(13));
      return t;
    });
  }
  return card;
}

/** What the catalog refuses but core.ts still rates: tiers out of order or bounded, negative prices and maxima. */
function oddCard(): ChargeCard {
  const card = randomCard();
  const tiers = card.tiers === undefined ? undefined : card.tiers.map((t) => ({ ...t }));
  if (tiers !== undefined && rnd() < 0.5) tiers.reverse();
  if (tiers !== undefined && rnd() < 0.3) tiers[tiers.length - 1]!.up_to = String(int(1000));
  if (tiers !== undefined && rnd() < 0.3) tiers[0]!.unit_price = `-${tiers[0]!.unit_price}`;
  if (tiers !== undefined) card.tiers = tiers;
  if (card.unit_price !== undefined && rnd() < 0.3) card.unit_price = `-${card.unit_price}`;
  if (rnd() < 0.3) card.maximum = `-${dec(int(3), int(7))}`;
  return card;
}

function randomQuantity(card: ChargeCard): string {
  const edges = (card.tiers ?? []).flatMap((t) => (t.up_to === null ? [] : [t.up_to]));
  const r = rnd();
  if (r < 0.15 && edges.length > 0) {
    const e = parseMicros(edges[int(edges.length)]!) + BigInt(int(3) - 1) + parseMicros(card.included ?? '0');
    return formatMicros(e);
  }
  if (r < 0.2) return '0';
  if (r < 0.25) return `-${dec(int(6), int(7))}`;
  if (r < 0.35) return dec(10 + int(11), int(7));
  return dec(int(10), int(7));
}

/** Rates through every path of the compiled core, and the reference; all must agree (including on throwing). */
function agreement(card: ChargeCard, quantity: string): { reference: string; paths: string[] } {
  const attempt = (f: () => string) => {
    try {
      return f();
    } catch {
      return 'throws';
    }
  };
  const reference = attempt(() => rate(card, quantity).amount);
  let c;
  try {
    c = compileCard(card);
  } catch {
    return { reference, paths: ['compile throws'] };
  }
  const q = parseMicros(quantity);
  const billable = q - c.included;
  return {
    reference,
    paths: [
      attempt(() => formatMicros(amountMicros(c, q))),
      attempt(() => formatMicros(c.amountOfBillable(billable > 0n ? billable : 0n))),
      attempt(() => rateSeries(c, [quantity]).total),
    ],
  };
}

describe('compiled rating: property test against core.ts', () => {
  it('agrees exactly with rate() on 25,000 random cards and quantities (Number and BigInt paths)', () => {
    let fastCards = 0;
    let slowQuantities = 0;
    for (let i = 0; i < 25_000; i++) {
      const card = randomCard();
      const quantity = randomQuantity(card);
      const c = compileCard(card);
      if (c.fast !== null) fastCards++;
      if (c.fast === null || parseMicros(quantity) - c.included > BigInt(c.fast.limit)) slowQuantities++;
      const { reference, paths } = agreement(card, quantity);
      expect(paths, `${JSON.stringify(card)} x ${quantity}`).toEqual([reference, reference, reference]);
    }
    // Both paths were exercised in earnest.
    expect(fastCards).toBeGreaterThan(15_000);
    expect(slowQuantities).toBeGreaterThan(3_000);
  });

  it('agrees with rate() around the limit of the Number path of 5,000 random cards', () => {
    let checked = 0;
    for (let i = 0; i < 5_000; i++) {
      const card = randomCard();
      const c = compileCard(card);
      if (c.fast === null) continue;
      for (const step of [-1n, 0n, 1n]) {
        const quantity = formatMicros(c.included + BigInt(c.fast.limit) + step);
        const { reference, paths } = agreement(card, quantity);
        expect(paths, `${JSON.stringify(card)} x ${quantity} (limit ${c.fast.limit})`).toEqual([reference, reference, reference]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(10_000);
  });

  it('agrees with rate() on 5,000 cards the catalog would refuse, or refuses them when compiled', () => {
    let compiled = 0;
    for (let i = 0; i < 5_000; i++) {
      const card = oddCard();
      const quantity = randomQuantity(card);
      const { reference, paths } = agreement(card, quantity);
      if (paths[0] === 'compile throws') continue;
      compiled++;
      expect(paths, `${JSON.stringify(card)} x ${quantity}`).toEqual([reference, reference, reference]);
    }
    expect(compiled).toBeGreaterThan(4_500);
  });
});

function randomSeries(card: ChargeCard): string[] {
  const n = 1 + int(40);
  const shape = int(4);
  const out: string[] = [];
  let q = shape === 3 ? parseMicros(dec(14 + int(4), 6)) : 0n;
  const step = () => BigInt(int(4) === 0 ? 0 : 1 + int(10 ** (1 + int(10))));
  for (let i = 0; i < n; i++) {
    if (shape === 0) q += step(); // monotonic (sum meters)
    else if (shape === 1) q = parseMicros(randomQuantity(card)); // min / latest meters: anything
    else if (shape === 2) q += rnd() < 0.5 ? step() : -step(); // up and down
    else q += step() * 1_000_000n; // large, across the Number limit
    const text = formatMicros(q);
    // The same value in other spellings: trailing zeros dropped, or repeated as is.
    out.push(rnd() < 0.3 ? text.replace(/\.?0+$/, '') || '0' : text);
    if (rnd() < 0.1) out.push(out[out.length - 1]!);
  }
  return out;
}

describe('compiled rating: hourly series', () => {
  it('increments are exactly the differences of rate(), add up to the total, which is the amount of the last hour (3,000 series)', () => {
    for (let s = 0; s < 3_000; s++) {
      const card = rnd() < 0.1 ? oddCard() : randomCard();
      let c;
      try {
        c = compileCard(card);
      } catch {
        continue;
      }
      const series = randomSeries(card);
      const amounts = series.map((q) => {
        try {
          return parseMicros(rate(card, q).amount);
        } catch {
          return null;
        }
      });
      if (amounts.includes(null)) {
        expect(() => rateSeries(c, series), JSON.stringify(card)).toThrow();
        continue;
      }
      const { added, total } = rateSeries(c, series);
      const message = `${JSON.stringify(card)} x ${JSON.stringify(series)}`;
      expect(added, message).toEqual(amounts.map((a, i) => formatMicros(a! - (i === 0 ? 0n : amounts[i - 1]!))));
      expect(added.reduce((sum, a) => sum + parseMicros(a), 0n), message).toBe(parseMicros(total));
      expect(total, message).toBe(rate(card, series[series.length - 1]!).amount);
      expect(rateSeriesJoined(c, [series.join(',')], [series.length]), `joined: ${message}`).toEqual({ added: [added.join(',')], total: [total] });
    }
  });

  it('rates many series joined by commas exactly as one by one, empty series included', () => {
    for (let k = 0; k < 200; k++) {
      const card = randomCard();
      const c = compileCard(card);
      const many = Array.from({ length: 1 + int(6) }, () => (rnd() < 0.2 ? [] : randomSeries(card)));
      const one = many.map((series) => rateSeries(c, series));
      const joined = rateSeriesJoined(
        c,
        many.map((series) => series.join(',')),
        many.map((series) => series.length),
      );
      expect(joined, JSON.stringify(card)).toEqual({ added: one.map((r) => r.added.join(',')), total: one.map((r) => r.total) });
    }
  });

  it.each([
    ['a quantity holding a comma', ['1,2', '3'], [1, 1], /series 0 does not hold 1 quantities/],
    ['fewer quantities than counted', ['1,2'], [3], /series 0 does not hold 3 quantities/],
    ['more quantities than counted', ['1,2,3'], [2], /series 0 does not hold 2 quantities/],
    ['a trailing comma', ['1,'], [1], /series 0 does not hold 1 quantities/],
    ['an empty series that is not', ['1'], [0], /series 0 is not empty/],
    ['fewer counts than series', ['1', '2'], [1], /2 series but 1 counts/],
    ['a malformed quantity', ['1,x'], [2], /not a decimal quantity/],
    ['an empty quantity', [''], [1], /not a decimal quantity/],
    ['a line break in a quantity', ['1\n,2'], [2], /not a decimal quantity/],
  ] as const)('refuses joined series with %s', (_name, joined, counts, error) => {
    expect(() => rateSeriesJoined(compileCard({ model: 'per_unit', unit_price: '1' }), joined, counts)).toThrow(error);
  });

  it.each([
    ['an empty series', [], [], '0.000000'],
    ['zero stays zero', ['0', '0.000000', '-0'], ['0.000000', '0.000000', '0.000000'], '0.000000'],
    ['repeats add nothing', ['10', '10', '10.0', '12'], ['15.000000', '0.000000', '0.000000', '3.000000'], '18.000000'],
    ['down across a tier edge takes the flat fee back', ['10.000001', '10'], ['17.000000', '-2.000000'], '15.000000'],
    ['negative net usage bills nothing', ['5', '-3'], ['10.000000', '-10.000000'], '0.000000'],
  ] as const)('%s', (_name, series, added, total) => {
    const c = compileCard({ model: 'graduated', tiers: [{ up_to: '10', unit_price: '1', flat_fee: '5' }, { up_to: '20', unit_price: '0.5', flat_fee: '2' }, { up_to: null, unit_price: '0.1' }] });
    // 10 x 1 + 5 = 15; 10.000001 is 15 + 0.0000005 + 2 = 17.0000005, a tie to even: 17.000000.
    expect(rateSeries(c, series)).toEqual({ added, total });
  });

  it('rejects a malformed quantity anywhere in the series', () => {
    const c = compileCard({ model: 'per_unit', unit_price: '1' });
    expect(() => rateSeries(c, ['1', '2', '3.1234567'])).toThrow(/more than 6 decimal places/);
    expect(() => rateSeries(c, ['1', 'abc'])).toThrow(/not a decimal quantity/);
  });
});

describe('compiled rating: parsing and formatting quantities', () => {
  it.each([
    ['an integer', '12', 12_000_000n],
    ['six decimals', '12.345678', 12_345_678n],
    ['fewer decimals', '0.5', 500_000n],
    ['a millionth', '0.000001', 1n],
    ['a negative millionth', '-0.000001', -1n],
    ['negative zero', '-0', 0n],
    ['leading zeros', '007.10', 7_100_000n],
    ['32 integer digits', '99999999999999999999999999999999.999999', 99999999999999999999999999999999999999n],
    ['just below 2^53 micros', '9007199254.740991', 9_007_199_254_740_991n],
    ['at 2^53 micros', '9007199254.740992', 9_007_199_254_740_992n],
  ] as const)('parses %s', (_name, text, micros) => {
    expect(parseMicros(text)).toBe(micros);
  });

  it.each([
    ['seven decimals', '1.1234567', /more than 6 decimal places/],
    ['empty', '', /not a decimal quantity/],
    ['a lone minus', '-', /not a decimal quantity/],
    ['a plus sign', '+1', /not a decimal quantity/],
    ['a trailing point', '1.', /not a decimal quantity/],
    ['a leading point', '.5', /not a decimal quantity/],
    ['an exponent', '1e6', /not a decimal quantity/],
    ['spaces', ' 1', /not a decimal quantity/],
    ['two points', '1.2.3', /not a decimal quantity/],
    ['hexadecimal', '0x10', /not a decimal quantity/],
  ] as const)('rejects %s', (_name, text, error) => {
    expect(() => parseMicros(text)).toThrow(error);
    expect(() => rateSeries(compileCard({ model: 'per_unit', unit_price: '1' }), [text])).toThrow(error);
  });

  it.each([
    ['zero', 0n, '0.000000'],
    ['a millionth', 1n, '0.000001'],
    ['a negative millionth', -1n, '-0.000001'],
    ['whole units', 12_000_000n, '12.000000'],
    ['a negative amount', -12_345_678n, '-12.345678'],
    ['beyond 2^53', 123_456_789_012_345_678_901n, '123456789012345.678901'],
  ] as const)('formats %s', (_name, micros, text) => {
    expect(formatMicros(micros)).toBe(text);
  });
});

describe('compiled rating: cards it refuses', () => {
  it.each([
    ['per_unit without a unit_price', { model: 'per_unit' }, /no unit_price/],
    ['graduated without tiers', { model: 'graduated' }, /no tiers/],
    ['package without a package_size', { model: 'package', unit_price: '1' }, /no package_size/],
    ['a tier without a unit_price', { model: 'volume', tiers: [{ up_to: null }] }, /no tiers\[0\]\.unit_price/],
    ['a package_size of 0', { model: 'package', unit_price: '1', package_size: '0' }, /package_size must be above 0/],
    ['a price with 13 decimals', { model: 'per_unit', unit_price: '0.0000000000001' }, /unit_price has more than 12 decimal places/],
    ['an included quantity with 7 decimals', { model: 'per_unit', unit_price: '1', included: '0.0000001' }, /included has more than 6 decimal places/],
    ['a maximum that is not a decimal', { model: 'per_unit', unit_price: '1', maximum: '1e3' }, /maximum is not a decimal string/],
  ] as const)('%s', (_name, card, error) => {
    expect(() => compileCard(card as ChargeCard)).toThrow(error);
  });
});
