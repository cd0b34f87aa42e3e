import { describe, expect, it } from 'vitest';
import { crossings, DEFAULT_INCLUDED_PERCENTS } from '../../alerts/core.js';
import type { MeterTotal } from '../../invoicing/compose.js';
import type { Charge } from '../../catalog/plans.js';

const total = (quantity: string, usage: string, charge: Partial<Charge>): MeterTotal => ({ quantity, usage, topUp: '0', billed: usage, charge: { meter: 'm', model: 'per_unit', unit_price: '0.01', ...charge } });
const defaults = { includedPercents: DEFAULT_INCLUDED_PERCENTS, spend: [] };

describe('usage alert thresholds', () => {
  it.each([
    ['below 75 %', '749.999999', []],
    ['exactly 75 %', '750', ['75']],
    ['between 90 % and 100 %', '999', ['75', '90']],
    ['exactly the included quantity', '1000', ['75', '90', '100']],
    ['far above it', '5000', ['75', '90', '100']],
  ])('of included 1000: %s', (_name, quantity, fired) => {
    const out = crossings(new Map([['api_calls', total(quantity, '0', { included: '1000' })]]), defaults);
    expect(out.map((c) => c.threshold)).toEqual(fired);
    for (const c of out) expect(c).toMatchObject({ meter: 'api_calls', kind: 'included_percent', included: '1000', quantity });
  });

  it('has no percentage thresholds for a charge without an included quantity', () => {
    expect(crossings(new Map([['api_calls', total('1000000', '100', {})]]), defaults)).toEqual([]);
    expect(crossings(new Map([['api_calls', total('1000000', '100', { included: '0' })]]), defaults)).toEqual([]);
  });

  it('reaches a spend threshold per charge, or over all charges, on the rated amount (not the minimum top-up)', () => {
    const totals = new Map([
      ['api_calls', total('20000', '60', { included: '1000000' })],
      ['storage', { ...total('10', '40', {}), topUp: '100', billed: '140' }],
    ]);
    const out = crossings(totals, {
      includedPercents: [],
      spend: [
        { meter: 'api_calls', amount: '60' },
        { meter: 'storage', amount: '40.000001' },
        { meter: null, amount: '100' },
        { meter: 'unknown', amount: '1' },
      ],
    });
    expect(out).toEqual([
      { meter: 'api_calls', kind: 'spend', threshold: '60', included: null, quantity: '20000', amount: '60.000000' },
      { meter: '', kind: 'spend', threshold: '100', included: null, quantity: null, amount: '100.000000' },
    ]);
  });

  it('takes custom percentages, above 100 % too', () => {
    const out = crossings(new Map([['m', total('1500', '0', { included: '1000' })]]), { includedPercents: ['50', '150', '200'], spend: [] });
    expect(out.map((c) => c.threshold)).toEqual(['50', '150']);
  });
});
