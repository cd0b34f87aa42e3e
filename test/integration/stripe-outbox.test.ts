import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateAll } from '../../core/migrate.js';
import { Outbox, enqueue } from '../../stripe/outbox.js';
import { openTestStores, type TestStores } from '../support/stores.js';

let stores: TestStores;

beforeAll(async () => {
  stores = await openTestStores();
  await migrateAll(stores);
});

afterAll(async () => {
  await stores.cleanup();
});

describe('the Stripe outbox', () => {
  it('hands out claimed rows in the order they fell due, however the store last wrote them', async () => {
    const pg = stores.postgres;
    // An invoice's row, then its credit notes' rows, for a few invoices, each a moment later.
    for (let i = 0; i < 8; i++) {
      await enqueue(pg, [{ tenantId: 't', kind: 'invoice', ref: `in_${i}` }]);
      await enqueue(pg, [{ tenantId: 't', kind: 'credit_note', ref: `cn_${i}_a` }]);
      await enqueue(pg, [{ tenantId: 't', kind: 'credit_note', ref: `cn_${i}_b` }]);
    }
    // Rows written again since (a failed claim given back, a finance action) sit elsewhere in the table.
    await pg.query("UPDATE stripe_outbox SET updated_at = now() WHERE kind = 'invoice' OR ref LIKE '%_b'");
    const claimed = await new Outbox(pg, 'worker', 60).claim(50);
    const due = (await pg.query<{ id: string }>('SELECT id::text AS id FROM stripe_outbox ORDER BY next_attempt_at, id')).rows.map((r) => r.id);
    expect(claimed.map((r) => r.id)).toEqual(due);
    expect(claimed.slice(0, 3).map((r) => r.ref)).toEqual(['in_0', 'cn_0_a', 'cn_0_b']);
  });
});
