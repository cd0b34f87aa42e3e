import { withoutTrailingZeros } from '../core/money.js';
import type { ChargeCard } from './core.js';

/**
 * The rating core compiled for hourly re-rating: the same amounts as `rate(card, q).amount`
 * (core.ts), digit for digit, at a fraction of the cost, for the many quantities one card
 * rates in a period. Pure: no IO, no clock.
 *
 * The scaled-integer scheme. Quantities carry at most 6 decimals, so a quantity is the integer
 * q x 10^6; prices carry at most 12, so a price is an integer p x 10^12 (or x 10^S for the S
 * decimals a card actually uses). Every exact amount the rules produce is then an integer
 * x 10^18 (x 10^(6+S)): units x unit price is (q x 10^6)(p x 10^12), flat fees and the maximum
 * are held at that scale, and a graduated card's tiers are folded into the exact amount at the
 * start of each tier (cum_k + (billable - lower_k) x p_k, fees included), so rating one
 * quantity is a tier look-up, one product and one sum. Package counts are an integer quotient
 * of two integers, exactly floor or ceil. Nothing else is divided until the single rounding to
 * 6 decimals (by 10^12, half-even on the exact remainder). No step ever rounds, so the result
 * is the exact amount rounded once, which is what decimal.js computes at 100 significant
 * digits (38-digit quantities times 38-digit prices never need more).
 *
 * Two representations of those integers:
 *  - BigInt, at the card's own scale S: exact at any size, always available;
 *  - Numbers, whose integer arithmetic is exact below 2^53, for cards with non-negative prices,
 *    fees and maximum and tiers in order (every card the catalog accepts). Prices x 10^12 and
 *    amounts x 10^18 do not fit a Number, so they are held in parts below 10^12 and multiplied
 *    part by part (mulAdd), every product and partial sum being a part of the result. The
 *    result stays below 2^53 millionths up to a billable quantity derived when compiling (the
 *    path's `limit`); above it, or for a quantity of 2^53 millionths or more, the BigInt path
 *    takes over. Quotients of Numbers are floor(a / d), checked against the remainder.
 * Quantities are parsed straight from their digits into a Number while the value is below
 * 2^53, into a BigInt otherwise.
 *
 * Cards outside what the catalog accepts are either rated exactly like core.ts on the BigInt
 * path (tiers out of order or not open-ended, negative prices) or refused when compiled (card
 * quantities with more than 6 decimals, prices with more than 12, a package_size not above
 * 0), never rated differently.
 */

const QUANTITY_DECIMALS = 6;
const PRICE_DECIMALS = 12;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const BIG_MAX_SAFE = BigInt(MAX_SAFE);
const MICROS = 1_000_000n;

export interface CompiledCard {
  readonly model: ChargeCard['model'];
  /** S: on the BigInt path unit prices are held x 10^S, exact amounts x 10^(6+S). */
  readonly priceScale: number;
  /** included x 10^6. */
  readonly included: bigint;
  /** The amount x 10^6 of a billable quantity (x 10^6, >= 0): after the maximum, rounded half-even. */
  readonly amountOfBillable: (billable: bigint) => bigint;
  /** The Number path, or null when the card does not allow one. */
  readonly fast: NumberPath | null;
}

export interface NumberPath {
  /** included x 10^6. */
  readonly included: number;
  /** The largest billable quantity (x 10^6) the Number path rates exactly. */
  readonly limit: number;
  /** The amount x 10^6 of a billable quantity in (0, limit]. */
  readonly amount: (billable: number) => number;
}

interface ScaledTier {
  /** x 10^6; null for an open-ended tier. */
  upper: bigint | null;
  /** x 10^S. */
  price: bigint;
  /** x 10^(6+S). */
  fee: bigint;
}

export function compileCard(card: ChargeCard): CompiledCard {
  const micros = (d: Scaled) => d.digits * 10n ** BigInt(QUANTITY_DECIMALS - d.decimals);
  const included = micros(cardDecimal(card.included ?? '0', 'included', QUANTITY_DECIMALS));
  const maximumText = card.maximum === undefined ? undefined : cardDecimal(card.maximum, 'maximum', PRICE_DECIMALS);
  const tiered = card.model === 'graduated' || card.model === 'volume';
  const tierTexts = tiered
    ? need(card.tiers, 'tiers').map((t, i) => ({
        upper: nullable(need(t.up_to, `tiers[${i}].up_to`), (u) => cardDecimal(u, `tiers[${i}].up_to`, QUANTITY_DECIMALS)),
        price: cardDecimal(need(t.unit_price, `tiers[${i}].unit_price`), `tiers[${i}].unit_price`, PRICE_DECIMALS),
        fee: cardDecimal(t.flat_fee ?? '0', `tiers[${i}].flat_fee`, PRICE_DECIMALS),
      }))
    : [];
  const unitPrice = tiered ? undefined : cardDecimal(need(card.unit_price, 'unit_price'), 'unit_price', PRICE_DECIMALS);
  if (card.model !== 'per_unit' && !tiered && card.model !== 'package') throw new Error(`rate card has an unknown model: ${String(card.model)}`);

  const scale = Math.max(
    0,
    ...(unitPrice === undefined ? [] : [unitPrice.decimals]),
    ...tierTexts.map((t) => Math.max(t.price.decimals, t.fee.decimals - QUANTITY_DECIMALS)),
    ...(maximumText === undefined ? [] : [maximumText.decimals - QUANTITY_DECIMALS]),
  );
  const atPrice = (d: Scaled) => d.digits * 10n ** BigInt(scale - d.decimals);
  const atAmount = (d: Scaled) => d.digits * 10n ** BigInt(QUANTITY_DECIMALS + scale - d.decimals);
  const maximum = maximumText === undefined ? null : atAmount(maximumText);
  const divisor = 10n ** BigInt(scale);
  const tiers: ScaledTier[] = tierTexts.map((t) => ({ upper: t.upper === null ? null : micros(t.upper), price: atPrice(t.price), fee: atAmount(t.fee) }));
  const packageSize = card.model === 'package' ? micros(cardDecimal(need(card.package_size, 'package_size'), 'package_size', QUANTITY_DECIMALS)) : undefined;
  if (packageSize !== undefined && packageSize <= 0n) throw new Error('rate card package_size must be above 0');

  let exact: (billable: bigint) => bigint;
  switch (card.model) {
    case 'per_unit': {
      const price = atPrice(unitPrice!);
      exact = (b) => b * price;
      break;
    }
    case 'graduated': {
      if (inOrder(tiers)) {
        const { lower, cum } = cumulative(tiers);
        exact = (b) => {
          if (b === 0n) return 0n;
          let k = 0;
          while (tiers[k]!.upper !== null && b > tiers[k]!.upper!) k++;
          return cum[k]! + (b - lower[k]!) * tiers[k]!.price;
        };
      } else {
        exact = (b) => {
          let amount = 0n;
          let low = 0n;
          for (const t of tiers) {
            const inTier = (t.upper === null || b < t.upper ? b : t.upper) - low;
            if (inTier > 0n) amount += inTier * t.price + t.fee;
            if (t.upper !== null) low = t.upper;
          }
          return amount;
        };
      }
      break;
    }
    case 'volume': {
      exact = (b) => {
        if (b === 0n) return 0n;
        const t = tiers.find((x) => x.upper === null || b <= x.upper);
        if (t === undefined) throw new Error('rate card has no tier for this quantity (the last tier is not open-ended)');
        return b * t.price + t.fee;
      };
      break;
    }
    case 'package': {
      const size = packageSize!;
      const down = card.round === 'down';
      const perPackage = atPrice(unitPrice!) * MICROS;
      exact = (b) => (b / size + (!down && b % size !== 0n ? 1n : 0n)) * perPackage;
      break;
    }
  }

  const amountOfBillable = (b: bigint): bigint => {
    const x = exact(b);
    return roundHalfEven(maximum !== null && x > maximum ? maximum : x, divisor);
  };
  const fast = numberPath({ model: card.model, tiers, unitPrice: unitPrice === undefined ? undefined : atPrice(unitPrice), packageSize, down: card.round === 'down', included, maximum, scale, exact });
  return { model: card.model, priceScale: scale, included, amountOfBillable, fast };
}

/** A graduated card's tiers folded into the exact amount (x 10^(6+S)) at the start of each, its fee included. */
function cumulative(tiers: readonly ScaledTier[]): { lower: bigint[]; cum: bigint[] } {
  const lower = tiers.map((_, k) => (k === 0 ? 0n : tiers[k - 1]!.upper!));
  const cum: bigint[] = [];
  tiers.forEach((t, k) => {
    const before = k === 0 ? 0n : cum[k - 1]! + (lower[k]! - lower[k - 1]!) * tiers[k - 1]!.price;
    cum.push(before + t.fee);
  });
  return { lower, cum };
}

const E6 = 1_000_000;
const E12 = 1_000_000_000_000;
const BIG_E12 = 10n ** 12n;

/**
 * The Number path of a card, or null when the card does not allow one (a negative price, fee,
 * included or maximum, tiers out of order). It works at fixed scales, prices x 10^12 and
 * amounts x 10^18, each split into parts that keep every product below 2^53 (see mulAdd),
 * for billable quantities up to `limit`: the largest whose amount is below 2^53 millionths.
 * Amounts grow with the quantity (graduated, per_unit, package), so the limit is found by
 * bisection on the exact amount; volume amounts drop at an edge, so there every tier is
 * bounded by the dearest price and fee.
 */
function numberPath(card: {
  model: ChargeCard['model'];
  tiers: readonly ScaledTier[];
  unitPrice: bigint | undefined;
  packageSize: bigint | undefined;
  down: boolean;
  included: bigint;
  maximum: bigint | null;
  scale: number;
  exact: (billable: bigint) => bigint;
}): NumberPath | null {
  const { model, tiers, unitPrice, exact } = card;
  const tiered = model === 'graduated' || model === 'volume';
  if (card.included < 0n || card.included > BIG_MAX_SAFE || (card.maximum !== null && card.maximum < 0n)) return null;
  if (tiered ? !inOrder(tiers) || tiers.some((t) => t.price < 0n || t.fee < 0n) : unitPrice! < 0n) return null;

  const to12 = 10n ** BigInt(PRICE_DECIMALS - card.scale);
  const ceiling = (BIG_MAX_SAFE - 2n) * 10n ** BigInt(card.scale);
  let limit: bigint;
  if (model === 'volume') {
    const maxPrice = tiers.reduce((m, t) => (t.price > m ? t.price : m), 0n);
    const maxFee = tiers.reduce((m, t) => (t.fee > m ? t.fee : m), 0n);
    limit = maxFee > ceiling ? -1n : maxPrice === 0n ? BIG_MAX_SAFE : (ceiling - maxFee) / maxPrice;
  } else {
    let lo = 0n;
    let hi = BIG_MAX_SAFE;
    while (lo < hi) {
      const mid = (lo + hi + 1n) / 2n;
      if (exact(mid) <= ceiling) lo = mid;
      else hi = mid - 1n;
    }
    limit = lo;
    // Package counts are held x 10^6 as well.
    if (model === 'package') limit = min(limit, (BIG_MAX_SAFE / MICROS - 1n) * card.packageSize!);
  }
  if (limit > BIG_MAX_SAFE) limit = BIG_MAX_SAFE;
  if (limit <= 0n) return null;

  const cap = card.maximum === null ? null : split18(card.maximum * to12);
  const capWhole = cap === null ? Infinity : cap.whole;
  const capRest = cap === null ? 0 : cap.rest;
  let amount: (b: number) => number;
  if (tiered) {
    const { lower, cum } = cumulative(tiers);
    // Graduated: the amount at the tier's start plus its units; volume: its fee plus every unit.
    const base = (model === 'graduated' ? cum : tiers.map((t) => t.fee)).map((x) => split18(x * to12));
    const prices = tiers.map((t) => split12(t.price * to12));
    // Tier edges and bases beyond 2^53 are only met by quantities above the limit.
    const lo = Float64Array.from(lower, Number);
    const up = Float64Array.from(tiers, (t) => (t.upper === null ? Infinity : Number(t.upper)));
    const bw = Float64Array.from(base, (x) => x.whole);
    const br = Float64Array.from(base, (x) => x.rest);
    const pw = Float64Array.from(prices, (p) => p.whole);
    const ph = Float64Array.from(prices, (p) => p.high);
    const pl = Float64Array.from(prices, (p) => p.low);
    // The tier of the previous quantity: consecutive hours mostly stay in it.
    let hint = 0;
    const graduated = model === 'graduated';
    amount = (b) => {
      let k = hint;
      while (b <= lo[k]!) k--;
      while (b > up[k]!) k++;
      hint = k;
      return mulAdd(graduated ? b - lo[k]! : b, bw[k]!, br[k]!, pw[k]!, ph[k]!, pl[k]!, capWhole, capRest);
    };
  } else {
    const p = split12(unitPrice! * to12);
    if (model === 'per_unit') {
      amount = (b) => mulAdd(b, 0, 0, p.whole, p.high, p.low, capWhole, capRest);
    } else {
      const size = Number(card.packageSize!);
      const down = card.down;
      amount = (b) => {
        let packs = floorDiv(b, size);
        if (!down && packs * size !== b) packs++;
        return mulAdd(packs * E6, 0, 0, p.whole, p.high, p.low, capWhole, capRest);
      };
    }
  }
  return { included: Number(card.included), limit: Number(limit), amount };
}

/**
 * round_half_even(min(base + u x price, cap) / 10^12): the amount x 10^6 of u (x 10^6) units at
 * a price x 10^12 over a base amount x 10^18, on Numbers, exactly. Amounts x 10^18 come as
 * (whole = floor(x / 10^12), rest < 10^12) and prices as (whole, high, low) with
 * price = whole x 10^12 + high x 10^6 + low. With u = uh x 10^12 + l1 x 10^6 + l0:
 *   u x price / 10^12 = u x whole + uh x (high x 10^6 + low) + l1 x high + t / 10^6 + l0 x low / 10^12,
 * t = l1 x low + l0 x high < 2 x 10^12. Every product and partial sum is a non-negative part of
 * the whole result, which the limit keeps below 2^53, or below 3 x 10^12 for the rest.
 */
function mulAdd(u: number, baseWhole: number, baseRest: number, whole: number, high: number, low: number, capWhole: number, capRest: number): number {
  const uh = floorDiv(u, E12);
  const ul = u - uh * E12;
  const l1 = floorDiv(ul, E6);
  const l0 = ul - l1 * E6;
  const t = l1 * low + l0 * high;
  const th = floorDiv(t, E6);
  let rest = baseRest + (t - th * E6) * E6 + l0 * low;
  let w = baseWhole + u * whole + uh * (high * E6 + low) + l1 * high + th;
  const carry = floorDiv(rest, E12);
  w += carry;
  rest -= carry * E12;
  if (w > capWhole || (w === capWhole && rest > capRest)) {
    w = capWhole;
    rest = capRest;
  }
  return rest > E12 / 2 || (rest === E12 / 2 && floorDiv(w, 2) * 2 !== w) ? w + 1 : w;
}

/** An amount x 10^18 (>= 0) as mulAdd takes it; a whole part beyond 2^53 is never reached. */
function split18(x: bigint): { whole: number; rest: number } {
  return { whole: Number(x / BIG_E12), rest: Number(x % BIG_E12) };
}

/** A price x 10^12 (>= 0) as mulAdd takes it. */
function split12(p: bigint): { whole: number; high: number; low: number } {
  const rest = Number(p % BIG_E12);
  const high = floorDiv(rest, E6);
  return { whole: Number(p / BIG_E12), high, low: rest - high * E6 };
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

/** The amount x 10^6 (after the maximum, rounded half-even, before any minimum) of a quantity x 10^6. */
export function amountMicros(c: CompiledCard, quantityMicros: bigint): bigint {
  const b = quantityMicros - c.included;
  if (b <= 0n) return c.amountOfBillable(0n);
  const fast = c.fast;
  return fast !== null && b <= BigInt(fast.limit) ? BigInt(fast.amount(Number(b))) : c.amountOfBillable(b);
}

/**
 * Rates one charge's cumulative period quantities, hour by hour: added[i] is
 * amount(cumulative[i]) - amount(cumulative[i - 1]) (the amount before the first hour is 0),
 * so the increments add up exactly to `total`, the amount of the last quantity.
 */
export function rateSeries(c: CompiledCard, cumulative: readonly string[]): { added: string[]; total: string } {
  const n = cumulative.length;
  const added = new Array<string>(n);
  const r = running(c);
  let prevText: string | null = null;
  for (let i = 0; i < n; i++) {
    const text = cumulative[i]!;
    if (text === prevText) {
      added[i] = ZERO;
      continue;
    }
    prevText = text;
    const q = c.fast === null ? NaN : scanMicros(text, 0);
    const d = nextHour(c, r, q === q && scanEnd === text.length ? q : NaN, text, 0, text.length);
    added[i] = d === null ? ZERO : typeof d === 'number' ? formatNumberMicros(d) : formatMicros(d);
  }
  return { added, total: typeof r.amount === 'number' ? formatNumberMicros(r.amount) : formatMicros(r.amount) };
}

/**
 * rateSeries for many series of one card at once, in a compact form for crossing a thread
 * boundary: joined[i] is series i's quantities joined by ',' and counts[i] their number, which
 * also guards the framing (a quantity holding a ',' would change it). Returns each series'
 * increments joined by ',' (one string per series rather than 720: far cheaper to copy between
 * threads) and the totals.
 */
export function rateSeriesJoined(c: CompiledCard, joined: readonly string[], counts: ArrayLike<number>): { added: string[]; total: string[] } {
  if (joined.length !== counts.length) throw new Error(`${joined.length} series but ${counts.length} counts`);
  const added = new Array<string>(joined.length);
  const total = new Array<string>(joined.length);
  const out = new ByteWriter(16_384);
  for (let s = 0; s < joined.length; s++) {
    const text = joined[s]!;
    const count = counts[s]!;
    const len = text.length;
    if (count === 0 && len > 0) throw new Error(`series ${s} is not empty, yet its count is 0`);
    const r = running(c);
    out.length = 0;
    let pos = 0;
    for (let i = 0; i < count; i++) {
      const q = c.fast === null ? NaN : scanMicros(text, pos);
      let end = scanEnd;
      if (q !== q) for (end = pos; end < len && text.charCodeAt(end) !== COMMA; end++);
      if (end === len ? i !== count - 1 : i === count - 1 || text.charCodeAt(end) !== COMMA) {
        throw new Error(`series ${s} does not hold ${count} quantities (or a quantity contains ",")`);
      }
      const d = nextHour(c, r, q, text, pos, end);
      if (i > 0) out.byte(COMMA);
      if (d === null) out.zero();
      else if (typeof d === 'number') out.micros(d);
      else out.ascii(formatMicros(d));
      pos = end + 1;
    }
    added[s] = LATIN1.decode(out.bytes.subarray(0, out.length));
    total[s] = typeof r.amount === 'number' ? formatNumberMicros(r.amount) : formatMicros(r.amount);
  }
  return { added, total };
}

const LATIN1 = new TextDecoder('latin1');
const COMMA = 44;

/** The state of one series between hours: its last quantity (x 10^6) and the amount it rated to. */
interface Running {
  /** The last quantity when it was read as a Number, else NaN. */
  q: number;
  /** The last quantity when it was read as a BigInt, else null. */
  qBig: bigint | null;
  amount: number | bigint;
}

function running(c: CompiledCard): Running {
  // With a Number path the amount of 0 is 0 (non-negative prices, no negative maximum), so a
  // first quantity of 0 adds nothing; without one, the first quantity is always rated.
  return { q: c.fast === null ? NaN : 0, qBig: null, amount: 0 };
}

/**
 * The next hour of a series: the quantity is `q` (x 10^6) when it was read as a Number, else
 * NaN and it is read from text[start, end). Returns the increment x 10^6, or null when the
 * quantity did not change.
 */
function nextHour(c: CompiledCard, r: Running, q: number, text: string, start: number, end: number): number | bigint | null {
  let amount: number | bigint;
  if (q === q) {
    if (q === r.q) return null;
    r.q = q;
    r.qBig = null;
    const fast = c.fast!;
    const b = q - fast.included;
    amount = b <= 0 ? 0 : b <= fast.limit ? fast.amount(b) : c.amountOfBillable(BigInt(b));
  } else {
    const qb = parseMicros(start === 0 && end === text.length ? text : text.slice(start, end));
    if (qb === r.qBig) return null;
    r.qBig = qb;
    r.q = NaN;
    amount = amountMicros(c, qb);
  }
  const prev = r.amount;
  r.amount = amount;
  // Number amounts are safe integers of one sign (>= 0), so their difference is exact.
  return typeof amount === 'number' && typeof prev === 'number' ? amount - prev : BigInt(amount) - BigInt(prev);
}

/** "000" to "999" as ASCII digits, three bytes each. */
const DIGITS3 = Uint8Array.from({ length: 3_000 }, (_, i) => 48 + (Math.floor(Math.floor(i / 3) / 10 ** (2 - (i % 3))) % 10));

/** A growable buffer of Latin-1 bytes. */
class ByteWriter {
  bytes: Uint8Array;
  length = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }

  private room(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  byte(b: number): void {
    this.room(1);
    this.bytes[this.length++] = b;
  }

  ascii(text: string): void {
    this.room(text.length);
    for (let i = 0; i < text.length; i++) this.bytes[this.length++] = text.charCodeAt(i);
  }

  zero(): void {
    this.ascii(ZERO);
  }

  /** formatMicros of a safe integer, written digit by digit. */
  micros(v: number): void {
    const a = v < 0 ? -v : v;
    let whole = floorDiv(a, 1_000_000);
    const rest = (a - whole * 1_000_000) | 0;
    let digits = 1;
    for (let p = 10; p <= whole; p *= 10) digits++;
    this.room(digits + 8);
    const b = this.bytes;
    if (v < 0) b[this.length++] = 45;
    let at = this.length + digits;
    if (whole < 2 ** 31) {
      let w = whole | 0;
      do {
        const next = (w / 10) | 0;
        b[--at] = 48 + w - next * 10;
        w = next;
      } while (w > 0);
    } else {
      do {
        const next = floorDiv(whole, 10);
        b[--at] = 48 + whole - next * 10;
        whole = next;
      } while (whole > 0);
    }
    at = this.length + digits;
    b[at] = 46;
    const high = (rest / 1_000) | 0;
    const low = rest - high * 1_000;
    b[at + 1] = DIGITS3[high * 3]!;
    b[at + 2] = DIGITS3[high * 3 + 1]!;
    b[at + 3] = DIGITS3[high * 3 + 2]!;
    b[at + 4] = DIGITS3[low * 3]!;
    b[at + 5] = DIGITS3[low * 3 + 1]!;
    b[at + 6] = DIGITS3[low * 3 + 2]!;
    this.length = at + 7;
  }
}

const ZERO = '0.000000';
const QUANTITY = /^(-?)(\d+)(?:\.(\d+))?$/;

/** A quantity (optional '-', digits, at most 6 decimals) x 10^6. */
export function parseMicros(text: string): bigint {
  const m = QUANTITY.exec(text);
  if (m === null) throw new Error(`not a decimal quantity: ${JSON.stringify(text.slice(0, 60))}`);
  const fraction = m[3] ?? '';
  if (fraction.length > QUANTITY_DECIMALS) throw new Error(`quantity has more than ${QUANTITY_DECIMALS} decimal places: ${JSON.stringify(text.slice(0, 60))}`);
  const v = BigInt(m[2]! + fraction.padEnd(QUANTITY_DECIMALS, '0'));
  return m[1] === '-' ? -v : v;
}

/** An integer x 10^6 as a decimal string with exactly 6 decimals. */
export function formatMicros(v: bigint): string {
  const neg = v < 0n;
  const a = neg ? -v : v;
  const frac = String(a % MICROS);
  return `${neg ? '-' : ''}${a / MICROS}.${PAD[frac.length]}${frac}`;
}

const PAD = ['000000', '00000', '0000', '000', '00', '0', ''];
const POW10 = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];

// Number-to-string conversion dominates formatting, so the digits come from small tables: the
// whole part below 10,000 and the six decimals as two groups of three.
const WHOLE = Array.from({ length: 10_000 }, (_, i) => String(i));
const THREE = Array.from({ length: 1_000 }, (_, i) => String(1_000 + i).slice(1));
const POINT_THREE = THREE.map((d) => `.${d}`);

/** formatMicros for a safe integer. */
function formatNumberMicros(v: number): string {
  if (v === 0) return ZERO;
  const neg = v < 0;
  const a = neg ? -v : v;
  const whole = floorDiv(a, 1_000_000);
  const rest = (a - whole * 1_000_000) | 0;
  const high = (rest / 1_000) | 0;
  const text = (whole < 10_000 ? WHOLE[whole]! : String(whole)) + POINT_THREE[high]! + THREE[rest - high * 1_000]!;
  return neg ? `-${text}` : text;
}

/** Where the last scanMicros stopped. */
let scanEnd = 0;

/**
 * parseMicros of the quantity starting at text[start] into a Number, stopping at the first
 * character that is not part of it (its index is left in scanEnd). NaN when the quantity is
 * malformed, is not followed by the end of the text or a ',', or its value is not
 * below 2^53: the caller then takes the BigInt path, which also rejects malformed text. Each
 * step is exact while the running value is below 2^53, and rounding is monotone, so a value
 * that ever reaches 2^53 ends at or above it and is caught by the final check.
 */
function scanMicros(s: string, start: number): number {
  const n = s.length;
  let i = start;
  let c = i < n ? s.charCodeAt(i) : -1;
  const neg = c === 45;
  if (neg) i++;
  const first = i;
  let v = 0;
  for (; i < n; i++) {
    c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
  }
  if (i === first) return NaN;
  let decimals = 0;
  if (i < n && c === 46 - 48) {
    const point = i;
    for (i++; i < n; i++) {
      c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      v = v * 10 + c;
    }
    decimals = i - point - 1;
    if (decimals === 0 || decimals > QUANTITY_DECIMALS) return NaN;
  }
  if (i < n && c !== COMMA - 48) return NaN;
  scanEnd = i;
  v *= POW10[QUANTITY_DECIMALS - decimals]!;
  if (!(v <= MAX_SAFE)) return NaN;
  return neg ? -v : v;
}

/**
 * floor(a / d) for a safe integer a and d > 0, without `%` (fmod on doubles is slow). The
 * rounded quotient of a < 2^53 by d is within half an ulp of the true one, which never
 * crosses an integer; the remainder check keeps it right regardless.
 */
function floorDiv(a: number, d: number): number {
  const q = Math.floor(a / d);
  const r = a - q * d;
  return r < 0 ? q - 1 : r >= d ? q + 1 : q;
}

function inOrder(tiers: readonly ScaledTier[]): boolean {
  return (
    tiers.length > 0 &&
    tiers.every((t, k) => (k === tiers.length - 1 ? t.upper === null : t.upper !== null && t.upper > (k === 0 ? 0n : tiers[k - 1]!.upper!)))
  );
}

function roundHalfEven(v: bigint, d: bigint): bigint {
  if (d === 1n) return v;
  let q = v / d;
  let r = v % d;
  if (r < 0n) {
    q -= 1n;
    r += d;
  }
  return r * 2n > d || (r * 2n === d && q % 2n !== 0n) ? q + 1n : q;
}

interface Scaled {
  /** The value x 10^decimals. */
  digits: bigint;
  decimals: number;
}

const CARD_DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

function cardDecimal(text: string, field: string, maxDecimals: number): Scaled {
  const m = typeof text === 'string' ? CARD_DECIMAL.exec(text) : null;
  if (m === null) throw new Error(`rate card ${field} is not a decimal string: ${JSON.stringify(text)}`);
  const fraction = withoutTrailingZeros(m[3] ?? '');
  if (fraction.length > maxDecimals) throw new Error(`rate card ${field} has more than ${maxDecimals} decimal places`);
  const v = BigInt(m[2]! + fraction);
  return { digits: m[1] === '-' ? -v : v, decimals: fraction.length };
}

function nullable<T, U>(v: T | null, f: (v: T) => U): U | null {
  return v === null ? null : f(v);
}

function need<T>(v: T | undefined, field: string): T {
  if (v === undefined) throw new Error(`rate card has no ${field}`);
  return v;
}
