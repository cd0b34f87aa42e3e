import { afterAll, describe, expect, it } from 'vitest';
import { rate, type ChargeCard } from '../../rater/core.js';
import { createRatingPool, RatingError } from '../../rater/pool.js';

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
});
