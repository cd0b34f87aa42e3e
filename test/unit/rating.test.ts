import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { rate, type ChargeCard, type Tier } from '../../rating/core.js';
import { packageRoot } from '../../core/paths.js';

interface Fixture {
  name: string;
  card: ChargeCard;
  quantity: string;
  expected: { billable: string; amount: string; minimum_top_up: string; packages?: string };
}
const fixtures = JSON.parse(readFileSync(path.join(packageRoot(), 'test', 'fixtures', 'rating.json'), 'utf8')) as Fixture[];

describe('rating: golden fixtures', () => {
  it.each(fixtures.map((f) => [f.name, f] as const))('%s', (_name, f) => {
    const r = rate(f.card, f.quantity);
    expect({ billable: r.billable, amount: r.amount, minimum_top_up: r.minimum_top_up, ...(r.packages === undefined ? {} : { packages: r.packages }) }).toEqual(f.expected);
  });

  it('explains graduated amounts tier by tier, and the lines add up', () => {
    const r = rate(fixtures.find((f) => f.name === 'graduated with flat fees across three tiers')!.card, '25');
    expect(r.lines).toEqual([
      { tier: 1, units: '10', unit_price: '1', flat_fee: '5', amount: '15' },
      { tier: 2, units: '10', unit_price: '0.5', flat_fee: '2', amount: '7' },
      { tier: 3, units: '5', unit_price: '0.1', flat_fee: '0', amount: '0.5' },
    ]);
  });
});

/**
 * A straightforward reference in scaled integers (BigInt): quantities x 10^6, prices x 10^12,
 * amounts x 10^18, rounded half-even to 10^12 (6 decimals) at the end. It shares no code and
 * no decimal library with the rater.
 */
const Q = 10n ** 6n;
const P = 10n ** 12n;
function scaled(text: string, scale: bigint, decimals: number): bigint {
  const neg = text.startsWith('-');
  const [i, f = ''] = (neg ? text.slice(1) : text).split('.');
  const v = BigInt(i!) * scale + BigInt((f + '0'.repeat(decimals)).slice(0, decimals) || '0');
  return neg ? -v : v;
}
const q6 = (s: string) => scaled(s, Q, 6);
const p12 = (s: string) => scaled(s, P, 12);
const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);
function roundHalfEven(v: bigint, div: bigint): bigint {
  const q = v / div;
  const r = v % div;
  if (r * 2n > div || (r * 2n === div && q % 2n !== 0n)) return q + 1n;
  return q;
}
function text6(v: bigint): string {
  const neg = v < 0n;
  const a = neg ? -v : v;
  return `${neg ? '-' : ''}${a / Q}.${String(a % Q).padStart(6, '0')}`;
}

function reference(card: ChargeCard, quantity: string): { amount: string; top: string } {
  const billable = max(0n, q6(quantity) - q6(card.included ?? '0')); // x 10^6
  let amount18 = 0n; // x 10^18
  const tiers = (card.tiers ?? []) as Tier[];
  if (card.model === 'per_unit') amount18 = billable * p12(card.unit_price!);
  if (card.model === 'graduated') {
    tiers.forEach((t, i) => {
      const low = i === 0 ? 0n : q6(tiers[i - 1]!.up_to!);
      const high = t.up_to === null ? billable : min(billable, q6(t.up_to));
      if (high > low) amount18 += (high - low) * p12(t.unit_price) + p12(t.flat_fee ?? '0') * Q;
    });
  }
  if (card.model === 'volume' && billable > 0n) {
    // Walk down from the last tier to the one whose range holds the total.
    for (let i = tiers.length - 1; i >= 0; i--) {
      const low = i === 0 ? 0n : q6(tiers[i - 1]!.up_to!);
      if (billable > low) {
        amount18 = billable * p12(tiers[i]!.unit_price) + p12(tiers[i]!.flat_fee ?? '0') * Q;
        break;
      }
    }
  }
  if (card.model === 'package') {
    const size = q6(card.package_size!);
    let packs = billable / size;
    if (card.round !== 'down' && billable % size !== 0n) packs += 1n;
    amount18 = packs * p12(card.unit_price!) * Q;
  }
  if (card.maximum !== undefined) amount18 = min(amount18, p12(card.maximum) * Q);
  const amount6 = roundHalfEven(amount18, P); // x 10^6
  const top = card.minimum === undefined ? 0n : max(0n, q6(card.minimum) - amount6);
  return { amount: text6(amount6), top: text6(top) };
}

let seed = 7;
const rnd = () => ((seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647);
const int = (n: number) => Math.floor(rnd() * n);
const dec = (intDigits: number, decimals: number) => {
  const i = String(int(10 ** intDigits));
  const d = decimals === 0 ? '' : `.${String(int(10 ** Math.min(decimals, 15))).padStart(Math.min(decimals, 15), '0')}${'0'.repeat(Math.max(0, decimals - 15))}`;
  return i + d;
};

function randomCard(): ChargeCard {
  const model = (['per_unit', 'graduated', 'volume', 'package'] as const)[int(4)]!;
  const card: ChargeCard = { model };
  if (rnd() < 0.3) card.included = dec(3, int(7));
  if (rnd() < 0.2) card.minimum = dec(3, int(3));
  if (rnd() < 0.2) card.maximum = dec(4, int(3));
  if (card.minimum !== undefined && card.maximum !== undefined && Number(card.minimum) > Number(card.maximum)) delete card.minimum;
  if (model === 'per_unit' || model === 'package') card.unit_price = dec(2, int(13));
  if (model === 'package') {
    card.package_size = String(1 + int(100)) + (rnd() < 0.3 ? `.${int(1000)}` : '');
    if (rnd() < 0.5) card.round = 'down';
  }
  if (model === 'graduated' || model === 'volume') {
    const n = 1 + int(4);
    let edge = 0;
    card.tiers = Array.from({ length: n }, (_, i) => {
      edge += 1 + int(1000);
      const t: Tier = { up_to: i === n - 1 ? null : String(edge), unit_price: dec(1, int(13)) };
      if (rnd() < 0.3) t.flat_fee = dec(2, int(3));
      return t;
    });
  }
  return card;
}

describe('rating: property test against a scaled-integer reference', () => {
  it('agrees exactly on 20,000 random cards and quantities, edges included', () => {
    for (let i = 0; i < 20_000; i++) {
      const card = randomCard();
      const edges = (card.tiers ?? []).flatMap((t) => (t.up_to === null ? [] : [t.up_to]));
      const quantity = rnd() < 0.2 && edges.length > 0 ? edges[int(edges.length)]! : rnd() < 0.05 ? '0' : dec(int(6), int(7));
      const r = rate(card, quantity);
      const want = reference(card, quantity);
      expect({ amount: r.amount, top: r.minimum_top_up }, `${JSON.stringify(card)} x ${quantity}`).toEqual(want);
    }
  });
});
