import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateAll } from '../../core/migrate.js';
import { emit } from '../../webhooks/events.js';
import { openTestStores, type TestStores } from '../support/stores.js';

let stores: TestStores;

beforeAll(async () => {
  stores = await openTestStores();
  await migrateAll(stores);
  await stores.postgres.query("INSERT INTO tenants (id, name) VALUES ('t', 'T')");
  for (const id of ['we_a', 'we_b']) {
    await stores.postgres.query("INSERT INTO webhook_endpoints (tenant_id, id, url, secret, events) VALUES ('t', $1, 'https://hooks.example/x', 'whsec_x', '{*}')", [id]);
  }
});

afterAll(async () => {
  await stores.cleanup();
});

describe('outbound webhook events', () => {
  it('of one change reach each endpoint in the order they happened', async () => {
    const types = ['invoice.created', 'invoice.finalized', 'invoice.paid'] as const;
    await stores.postgres.transaction((tx) => emit(tx, types.map((type) => ({ tenantId: 't', type, key: `${type}:in_1`, data: {} }))));
    // The dispatcher sends an endpoint's deliveries one at a time, by due time and number.
    for (const endpoint of ['we_a', 'we_b']) {
      const { rows } = await stores.postgres.query<{ type: string }>(
        `SELECT e.type FROM webhook_deliveries d JOIN webhook_events e ON e.tenant_id = d.tenant_id AND e.id = d.event_id
          WHERE d.endpoint_id = $1 ORDER BY d.next_attempt_at, d.id`,
        [endpoint],
      );
      expect(rows.map((r) => r.type)).toEqual([...types]);
    }
  });
});
