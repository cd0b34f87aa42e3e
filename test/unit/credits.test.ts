import { describe, expect, it } from 'vitest';
import { Dec } from '../../core/money.js';
import { applyCredits, type CreditGrant } from '../../invoicing/compose.js';
import { allowanceLeft } from '../../invoicing/allowance.js';

describe('credits against an amount due', () => {
  const g = (id: string, remaining: string): CreditGrant => ({ grantId: id, remaining });
  it.each([
    ['nothing to use', '50.00', [], [], '0'],
    ['one grant covers part', '50.00', [g('a', '20.00')], [['a', '20']], '20'],
    ['oldest first, then the next', '50.00', [g('a', '20.00'), g('b', '40.00')], [['a', '20'], ['b', '30']], '50'],
    ['never below zero: the rest stays', '10.00', [g('a', '25.00')], [['a', '10']], '10'],
    ['zero due uses nothing', '0.00', [g('a', '25.00')], [], '0'],
    ['JPY whole yen', '1234', [g('a', '1000'), g('b', '1000')], [['a', '1000'], ['b', '234']], '1234'],
  ] as const)('%s', (_name, due, grants, consumed, applied) => {
    const r = applyCredits(new Dec(due), grants);
    expect(r.consumed.map((c) => [c.grantId, c.amount])).toEqual(consumed);
    expect(r.applied).toBe(applied);
    expect(r.carried).toBeNull();
  });

  it('carries an amount below zero to the balance instead of using grants', () => {
    expect(applyCredits(new Dec('-101.50'), [g('a', '5')])).toEqual({ consumed: [], carried: '101.5', applied: '-101.5' });
  });
});

describe('credit ledger: property', () => {
  let seed = 42;
  const rnd = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
  const cents = (max: number) => new Dec(Math.floor(rnd() * max * 100)).div(100);

  it('always balances, never goes below zero, and no invoice total is negative (2,000 random histories)', () => {
    for (let h = 0; h < 2_000; h++) {
      // The ledger as close writes it: grants, consumptions against grants, carried credits as
      // new grants, and period allowances used after purchased credit, their rest expired.
      const grants: { id: string; amount: Dec; used: Dec }[] = [];
      let granted = new Dec(0);
      let consumed = new Dec(0);
      let expired = new Dec(0);
      for (let step = 0; step < 20; step++) {
        if (rnd() < 0.35) {
          const amount = cents(100).plus('0.01');
          grants.push({ id: `g${grants.length}`, amount, used: new Dec(0) });
          granted = granted.plus(amount);
          continue;
        }
        // An invoice: charges may be below zero (a downgrade credit).
        const due = cents(300).minus(rnd() < 0.15 ? 400 : 0);
        const available = grants.filter((x) => x.amount.gt(x.used)).map((x) => ({ grantId: x.id, remaining: x.amount.minus(x.used).toFixed() }));
        const allowance = rnd() < 0.5 ? { grantId: `a${step}`, remaining: cents(80).plus('0.01').toFixed() } : undefined;
        if (allowance !== undefined) {
          grants.push({ id: allowance.grantId, amount: new Dec(allowance.remaining), used: new Dec(0) });
          granted = granted.plus(allowance.remaining);
        }
        const r = applyCredits(new Dec(due.toFixed()), allowance === undefined ? available : [...available, allowance]);
        const total = due.minus(r.applied);
        expect(total.isNegative(), `total ${total.toFixed()} of due ${due.toFixed()}`).toBe(false);
        for (const c of r.consumed) {
          const grant = grants.find((x) => x.id === c.grantId)!;
          grant.used = grant.used.plus(c.amount);
          expect(grant.used.lte(grant.amount)).toBe(true);
          consumed = consumed.plus(c.amount);
        }
        if (allowance !== undefined) {
          const own = grants.find((x) => x.id === allowance.grantId)!;
          // Purchased credit goes first: the allowance is touched only once none is left.
          if (own.used.gt(0)) expect(grants.filter((x) => !x.id.startsWith('a')).every((x) => x.used.eq(x.amount))).toBe(true);
          const left = allowanceLeft(allowance, r.consumed);
          expect(new Dec(left ?? 0).eq(own.amount.minus(own.used))).toBe(true);
          // What the invoice leaves of its allowance expires with it.
          own.used = own.amount;
          expired = expired.plus(left ?? 0);
        }
        if (r.carried !== null) {
          grants.push({ id: `g${grants.length}`, amount: new Dec(r.carried), used: new Dec(0) });
          granted = granted.plus(r.carried);
        }
        const balance = grants.reduce((s, x) => s.plus(x.amount.minus(x.used)), new Dec(0));
        expect(balance.eq(granted.minus(consumed).minus(expired))).toBe(true);
        expect(balance.isNegative()).toBe(false);
      }
    }
  });
});
