import { Dec, amount6 } from '../core/money.js';

/**
 * Base-fee proration on a plan change inside a period: the difference between the two base
 * fees for the part of the period that remains, measured in milliseconds:
 *
 *     (new fee - old fee) x (period end - change) / (period end - period start)
 *
 * An upgrade charges it, a downgrade credits it (a negative amount). Exact until the end,
 * then rounded like every rated amount: 6 decimals, half-even. Pure: the instants are passed in.
 */
export function prorateBaseFee(oldFee: string, newFee: string, periodStart: Date, periodEnd: Date, changeAt: Date): string {
  const total = periodEnd.getTime() - periodStart.getTime();
  if (total <= 0) throw new RangeError('a period must end after it starts');
  if (changeAt.getTime() < periodStart.getTime() || changeAt.getTime() > periodEnd.getTime()) {
    throw new RangeError(`the change (${changeAt.toISOString()}) is outside the period`);
  }
  const remaining = periodEnd.getTime() - changeAt.getTime();
  return amount6(new Dec(newFee).minus(oldFee).times(remaining).div(total));
}
