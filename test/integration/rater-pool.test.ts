import { afterAll, describe, expect, it } from 'vitest';
import { rate, type ChargeCard } from '../../rating/core.js';
import { compileCard, rateSeries } from '../../rating/compiled.js';
import { createRatingPool, RatingError } from '../../rating/pool.js';

const pool = createRatingPool({ threads: 2 });
afterAll(async () => {
  await pool.close();
});

describe('rating on worker threads', () => {
  it('gives exactly what the core gives in this thread', async () => {
    const card: ChargeCard = {
      model: 'graduated',
      tiers: [{ up_to: '1000', unit_price: '0.001', flat_fee: '1' }, { up_to: '5000', unit_price: '0.0005' }, { up_to: null, unit_price: '0.0001' }],
      included: '10',
      minimum: '2',
    };
    const quantities = Array.from({ length: 5000 }, (_, i) => `${i * 3}.${String(i % 1_000_000).padStart(6, '0')}`);
    const batches = await Promise.all([0, 1, 2, 3].map((b) => pool.rate(card, quantities.slice(b * 1250, (b + 1) * 1250))));
    expect(batches.flat()).toEqual(quantities.map((q) => rate(card, q)));
  });

  it('reports a failure as an error with its code', async () => {
    const broken: ChargeCard = { model: 'per_unit' };
    const err = await pool.rate(broken, ['1']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RatingError);
    expect(err).toMatchObject({ code: 'TALLY_ERR_RATING_FAILED', message: expect.stringContaining('unit_price') });
  });

  it('rates hourly series exactly as the compiled core does in this thread, split over several tasks', async () => {
    const card: ChargeCard = {
      model: 'volume',
      tiers: [{ up_to: '1000', unit_price: '0.08', flat_fee: '5' }, { up_to: '10000', unit_price: '0.06' }, { up_to: null, unit_price: '0.000000000001' }],
      included: '10',
      maximum: '1000000',
    };
    // 400 series of 720 hours (several tasks' worth): rising, flat, falling, empty, and
    // quantities beyond 2^53 millionths that take the BigInt path.
    const series = Array.from({ length: 400 }, (_, s) =>
      s % 50 === 7
        ? []
        : Array.from({ length: 720 }, (_, h) => {
            if (s % 4 === 0) return `${h * 37 + s}.${String((h * 7919) % 1_000_000).padStart(6, '0')}`;
            if (s % 4 === 1) return String(Math.floor(h / 24) * 100);
            if (s % 4 === 2) return `${(720 - h) * 13}.5`;
            return `${s}${'9'.repeat(12)}.00000${h % 10}`;
          }),
    );
    const c = compileCard(card);
    const inThread = series.map((q) => rateSeries(c, q));
    const [all, one, none] = await Promise.all([pool.rateSeries(card, series), pool.rateSeries(card, series.slice(0, 1)), pool.rateSeries(card, [])]);
    expect(all).toEqual({ added: inThread.map((r) => r.added), total: inThread.map((r) => r.total) });
    expect(one).toEqual({ added: [inThread[0]!.added], total: [inThread[0]!.total] });
    expect(none).toEqual({ added: [], total: [] });
    expect(all.total[0]).toBe(rate(card, series[0]!.at(-1)!).amount);
  });

  it.each([
    ['a card without tiers', { model: 'graduated' }, [['1']], 'tiers'],
    ['a quantity with 7 decimals', { model: 'per_unit', unit_price: '1' }, [['1', '2.0000001']], 'more than 6 decimal places'],
    ['a quantity holding the separator', { model: 'per_unit', unit_price: '1' }, [['1,2'], ['3']], 'does not hold 1 quantities'],
    ['a quantity holding a line break', { model: 'per_unit', unit_price: '1' }, [['1\n2', '3']], 'not a decimal quantity'],
  ] as const)('reports a series failure as an error with its code: %s', async (_name, card, series, message) => {
    const err = await pool.rateSeries(card, series).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RatingError);
    expect(err).toMatchObject({ code: 'TALLY_ERR_RATING_FAILED', message: expect.stringContaining(message) });
  });
});
