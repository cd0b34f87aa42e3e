import type { PostgresStore } from './postgres.js';
import { newId } from './ids.js';
import { generateApiKey } from './apikeys.js';

export interface Tenant {
  id: string;
  name: string;
  created_at: string;
}

export interface StoredKey {
  tenantId: string;
  hash: Buffer;
}

/** Tenants and their keys in Postgres. */
export interface TenantRepository {
  create(name: string): Promise<Tenant & { api_key: string }>;
  get(id: string): Promise<Tenant | undefined>;
  /** The stored hash of an active key, by key id. */
  findKey(keyId: string): Promise<StoredKey | undefined>;
}

export function pgTenantRepository(pg: PostgresStore): TenantRepository {
  return {
    async create(name) {
      const id = newId('ten');
      const key = generateApiKey();
      const tenant = await pg.transaction(async (tx) => {
        const { rows } = await tx.query<{ id: string; name: string; created_at: Date }>(
          'INSERT INTO tenants (id, name) VALUES ($1, $2) RETURNING id, name, created_at',
          [id, name],
        );
        await tx.query('INSERT INTO api_keys (id, tenant_id, secret_hash) VALUES ($1, $2, $3)', [key.id, id, key.hash]);
        return rows[0]!;
      });
      return { id: tenant.id, name: tenant.name, created_at: tenant.created_at.toISOString(), api_key: key.key };
    },
    async get(id) {
      const { rows } = await pg.query<{ id: string; name: string; created_at: Date }>('SELECT id, name, created_at FROM tenants WHERE id = $1', [id]);
      const row = rows[0];
      return row === undefined ? undefined : { id: row.id, name: row.name, created_at: row.created_at.toISOString() };
    },
    async findKey(keyId) {
      const { rows } = await pg.query<{ tenant_id: string; secret_hash: Buffer }>(
        'SELECT tenant_id, secret_hash FROM api_keys WHERE id = $1 AND revoked_at IS NULL',
        [keyId],
      );
      const row = rows[0];
      return row === undefined ? undefined : { tenantId: row.tenant_id, hash: row.secret_hash };
    },
  };
}
