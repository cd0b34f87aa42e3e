import { describe, expect, it } from 'vitest';
import { Dec } from '../../core/money.js';
import { baseFeeLines, type FeePlan } from '../../rating/base-fee.js';
import { composeInvoice, meterTotals, type UsagePart } from '../../invoicing/compose.js';
import { liveWindow, segmentsOf, type PlanChange } from '../../rating/segments.js';
import { usageRanges, type UsageRanges } from '../../metering/cumulative.js';
import { period } from '../../catalog/periods.js';

const d = (s: string) => new Date(s);
const starter: FeePlan = { code: 'starter', version: 1, name: 'Starter', base_fee: '49.00' };
const pro: FeePlan = { code: 'pro', version: 1, name: 'Pro', base_fee: '199.00' };
const sept = { start: d('2026-09-01T00:00:00Z'), end: d('2026-10-01T00:00:00Z') }; // 30 days
const change = (at: string, plan: FeePlan, prorate = true): PlanChange<FeePlan> => ({ effective_from: d(at), plan, prorate });
const amounts = (lines: { type: string; amount: string }[]) => lines.map((l) => [l.type, l.amount]);

describe('base fee lines', () => {
  const full = { start: sept.start, end: sept.end, final: false };
  it.each([
    ['a plain period: the whole fee', full, null, [change('2026-08-01T00:00:00Z', starter)], [['base_fee', '49.000000']]],
    [
      'upgrade 49 → 199 with 15 of 30 days left: 75.00',
      full,
      null,
      [change('2026-08-01T00:00:00Z', starter), change('2026-09-16T00:00:00Z', pro)],
      [['base_fee', '49.000000'], ['proration', '75.000000']],
    ],
    [
      'downgrade 199 → 49 with 10 of 30 days left: a credit of 50.00',
      full,
      null,
      [change('2026-08-01T00:00:00Z', pro), change('2026-09-21T00:00:00Z', starter)],
      [['base_fee', '199.000000'], ['proration', '-50.000000']],
    ],
    [
      'a change without proration adds nothing this period',
      full,
      null,
      [change('2026-08-01T00:00:00Z', starter), change('2026-09-16T00:00:00Z', pro, false)],
      [['base_fee', '49.000000']],
    ],
    [
      'a trial covering the first 12 of 30 days: 18/30 of the fee',
      full,
      d('2026-09-13T00:00:00Z'),
      [change('2026-08-01T00:00:00Z', pro)],
      [['base_fee', '119.400000']],
    ],
    ['a trial covering the whole period: nothing', full, d('2026-10-05T00:00:00Z'), [change('2026-08-01T00:00:00Z', pro)], []],
    [
      'canceled after 20 of 30 days: a credit for the other 10',
      { start: sept.start, end: d('2026-09-21T00:00:00Z'), final: true },
      null,
      [change('2026-08-01T00:00:00Z', starter)],
      [['base_fee', '49.000000'], ['proration', '-16.333333']],
    ],
    [
      'upgraded, then canceled: the credit is of the fee charged last',
      { start: sept.start, end: d('2026-09-25T00:00:00Z'), final: true },
      null,
      [change('2026-08-01T00:00:00Z', starter), change('2026-09-16T00:00:00Z', pro)],
      [['base_fee', '49.000000'], ['proration', '75.000000'], ['proration', '-39.800000']],
    ],
  ] as const)('%s', (_name, window, trialEnd, history, want) => {
    expect(amounts(baseFeeLines({ period: sept, window, trialEnd, history }))).toEqual(want);
  });
});

describe('segments', () => {
  it('split a period at the exact instant of a plan change, and periods tile time', () => {
    const anchor = d('2026-01-31T10:37:00Z');
    const p = period(anchor, 'month', 0); // Jan 31 10:37 → Feb 28 10:37
    const segs = segmentsOf(liveWindow(p, anchor, null)!, [change('2026-01-31T10:37:00Z', starter), change('2026-02-10T08:15:00Z', pro)]);
    expect(segs.map((s) => [s.plan.code, s.start.toISOString(), s.end.toISOString()])).toEqual([
      ['starter', '2026-01-31T10:37:00.000Z', '2026-02-10T08:15:00.000Z'],
      ['pro', '2026-02-10T08:15:00.000Z', '2026-02-28T10:37:00.000Z'],
    ]);
    const next = segmentsOf(liveWindow(period(anchor, 'month', 1), anchor, null)!, [change('2026-01-31T10:37:00Z', starter), change('2026-02-10T08:15:00Z', pro)]);
    expect(next[0]!.start.toISOString()).toBe('2026-02-28T10:37:00.000Z');
  });

  it('end at a cancellation', () => {
    const p = period(d('2026-03-01T00:00:00Z'), 'month', 0);
    const w = liveWindow(p, d('2026-03-01T00:00:00Z'), d('2026-03-10T14:20:00Z'))!;
    expect(w.final).toBe(true);
    expect(segmentsOf(w, [change('2026-03-01T00:00:00Z', starter)])[0]!.end.toISOString()).toBe('2026-03-10T14:20:00.000Z');
  });

  it('are empty for a period the subscription was not live in', () => {
    expect(liveWindow(p2026(), d('2026-05-01T00:00:00Z'), d('2026-04-01T00:00:00Z'))).toBeUndefined();
  });

  const ms = (s: string) => d(s).getTime();
  const show = (r: UsageRanges) => ({
    hours: r.hours.to > r.hours.from ? [new Date(r.hours.from).toISOString(), new Date(r.hours.to).toISOString()] : null,
    clips: r.clips.map((c) => [new Date(c.from).toISOString(), new Date(c.to).toISOString()]),
  });
  it.each([
    ['on the hour at both ends: whole hours only', '2026-03-01T00:00:00Z', '2026-03-01T05:00:00Z', { hours: ['2026-03-01T00:00:00.000Z', '2026-03-01T05:00:00.000Z'], clips: [] }],
    [
      'inside hours at both ends: a part at each end',
      '2026-03-01T00:20:00Z',
      '2026-03-01T05:10:00Z',
      { hours: ['2026-03-01T01:00:00.000Z', '2026-03-01T05:00:00.000Z'], clips: [['2026-03-01T00:20:00.000Z', '2026-03-01T01:00:00.000Z'], ['2026-03-01T05:00:00.000Z', '2026-03-01T05:10:00.000Z']] },
    ],
    ['within one hour: one part', '2026-03-01T00:20:00Z', '2026-03-01T00:50:00Z', { hours: null, clips: [['2026-03-01T00:20:00.000Z', '2026-03-01T00:50:00.000Z']] }],
    ['in adjacent hours: two parts, no whole hour', '2026-03-01T00:20:00Z', '2026-03-01T01:10:00Z', { hours: null, clips: [['2026-03-01T00:20:00.000Z', '2026-03-01T01:00:00.000Z'], ['2026-03-01T01:00:00.000Z', '2026-03-01T01:10:00.000Z']] }],
    ['empty', '2026-03-01T00:20:00Z', '2026-03-01T00:20:00Z', { hours: null, clips: [] }],
  ] as const)('read usage by whole hours and parts of hours: %s', (_name, from, to, want) => {
    expect(show(usageRanges(ms(from), ms(to)))).toEqual(want);
  });
});

function p2026() {
  return period(d('2026-04-01T00:00:00Z'), 'month', 0);
}

describe('invoice totals', () => {
  const part = (charges: UsagePart['charges']): UsagePart => ({ plan: { code: 'p', version: 1, name: 'P' }, start: sept.start, end: sept.end, charges });
  const perUnit = { meter: 'm', model: 'per_unit' as const, unit_price: '0.001', minimum: '10' };

  it.each([
    ['USD: half-even to cents (0.125 → 0.12)', 2, ['0.125000'], '0.12'],
    ['USD: half-even to cents (0.135 → 0.14)', 2, ['0.135000'], '0.14'],
    ['JPY: whole yen (1234.5 → 1234)', 0, ['1000.000000', '234.500000'], '1234'],
    ['BHD: three places (1.0005 → 1.000)', 3, ['1.000500'], '1.000'],
    ['charges below zero: carried to the credit balance, the total is zero', 2, ['10.000000', '-12.500000'], '-2.50', '0.00'],
  ] as [string, number, string[], string, string?][])('%s', (_name, minor, lineAmounts, subtotal, total = subtotal) => {
    const baseFee = lineAmounts.map((amount) => ({ type: 'proration' as const, amount, description: '', plan: { code: 'p', version: 1 }, start: sept.start, end: sept.end }));
    const inv = composeInvoice({ minorUnits: minor, baseFee, usage: [], adjustments: [] });
    const zero = minor === 0 ? '0' : `0.${'0'.repeat(minor)}`;
    expect([inv.subtotal, inv.total, inv.tax, inv.discount]).toEqual([subtotal, total, zero, zero]);
    expect(new Dec(inv.total).isNegative()).toBe(false);
  });

  it('tops usage up to the minimum across the period’s segments, once per meter', () => {
    const parts = [part([{ meter: 'm', charge: perUnit, quantity: '3000', amount: '3.000000' }]), part([{ meter: 'm', charge: perUnit, quantity: '4000', amount: '4.000000' }])];
    expect(meterTotals(parts).get('m')).toMatchObject({ quantity: '7000', usage: '7.000000', topUp: '3.000000', billed: '10.000000' });
    const inv = composeInvoice({ minorUnits: 2, baseFee: [], usage: parts, adjustments: [] });
    expect(inv.lines.map((l) => [l.type, l.amount])).toEqual([
      ['usage', '3.000000'],
      ['usage', '4.000000'],
      ['minimum', '3.000000'],
    ]);
    expect(inv.total).toBe('10.00');
  });

  it('the minimum is the charge in force at the end: none once the plan changed to one that does not charge the meter', () => {
    const other = { meter: 'n', model: 'per_unit' as const, unit_price: '1' };
    const changed = [part([{ meter: 'm', charge: perUnit, quantity: '2000', amount: '2.000000' }]), part([{ meter: 'n', charge: other, quantity: '0', amount: '0.000000' }])];
    expect(meterTotals(changed).get('m')).toMatchObject({ usage: '2.000000', topUp: '0.000000', billed: '2.000000' });
    expect(composeInvoice({ minorUnits: 2, baseFee: [], usage: changed, adjustments: [] }).lines.some((l) => l.type === 'minimum')).toBe(false);
    // Changed to a plan that charges it with another minimum: that one.
    const raised = [part([{ meter: 'm', charge: perUnit, quantity: '2000', amount: '2.000000' }]), part([{ meter: 'm', charge: { ...perUnit, minimum: '5' }, quantity: '1000', amount: '1.000000' }])];
    expect(meterTotals(raised).get('m')).toMatchObject({ usage: '3.000000', topUp: '2.000000' });
    // And from a plan without one to a plan with one: the new minimum counts the whole period's usage.
    const added = [part([{ meter: 'm', charge: { ...other, meter: 'm' }, quantity: '4', amount: '4.000000' }]), part([{ meter: 'm', charge: perUnit, quantity: '1000', amount: '1.000000' }])];
    expect(meterTotals(added).get('m')).toMatchObject({ usage: '5.000000', topUp: '5.000000' });
  });
});
