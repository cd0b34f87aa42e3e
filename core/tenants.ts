import { TallyError } from './errors.js';
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
  /** A page of tenants by id, for the admin's tenant list. */
  list(limit: number, after: string | undefined): Promise<{ data: Tenant[]; has_more: boolean }>;
  /** The stored hash of an active key, by key id. */
  findKey(keyId: string): Promise<StoredKey | undefined>;
  /** A further key for the tenant (for rotation), shown once. */
  createKey(tenantId: string): Promise<ApiKeyView & { api_key: string }>;
  listKeys(tenantId: string): Promise<ApiKeyView[]>;
  /** Revokes a key; refuses the tenant's last active one. False when the tenant has no such key. */
  revokeKey(tenantId: string, keyId: string): Promise<ApiKeyView | undefined>;
}

export interface ApiKeyView {
  id: string;
  created_at: string;
  revoked_at: string | null;
}

const keyView = (r: { id: string; created_at: Date; revoked_at: Date | null }): ApiKeyView => ({ id: r.id, created_at: r.created_at.toISOString(), revoked_at: r.revoked_at?.toISOString() ?? null });

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
    async list(limit, after) {
      const { rows } = await pg.query<{ id: string; name: string; created_at: Date }>(
        'SELECT id, name, created_at FROM tenants WHERE ($1::text IS NULL OR id > $1) ORDER BY id LIMIT $2',
        [after ?? null, limit + 1],
      );
      return { data: rows.slice(0, limit).map((r) => ({ id: r.id, name: r.name, created_at: r.created_at.toISOString() })), has_more: rows.length > limit };
    },
    async findKey(keyId) {
      const { rows } = await pg.query<{ tenant_id: string; secret_hash: Buffer }>(
        'SELECT tenant_id, secret_hash FROM api_keys WHERE id = $1 AND revoked_at IS NULL',
        [keyId],
      );
      const row = rows[0];
      return row === undefined ? undefined : { tenantId: row.tenant_id, hash: row.secret_hash };
    },
    async createKey(tenantId) {
      const key = generateApiKey();
      const { rows } = await pg.query<{ id: string; created_at: Date; revoked_at: Date | null }>(
        'INSERT INTO api_keys (id, tenant_id, secret_hash) VALUES ($1, $2, $3) RETURNING id, created_at, revoked_at',
        [key.id, tenantId, key.hash],
      );
      return { ...keyView(rows[0]!), api_key: key.key };
    },
    async listKeys(tenantId) {
      const { rows } = await pg.query<{ id: string; created_at: Date; revoked_at: Date | null }>('SELECT id, created_at, revoked_at FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id', [tenantId]);
      return rows.map(keyView);
    },
    revokeKey: (tenantId, keyId) =>
      pg.transaction(async (tx) => {
        const { rows } = await tx.query<{ id: string; created_at: Date; revoked_at: Date | null }>('SELECT id, created_at, revoked_at FROM api_keys WHERE tenant_id = $1 FOR UPDATE', [tenantId]);
        const key = rows.find((r) => r.id === keyId);
        if (key === undefined) return undefined;
        if (key.revoked_at !== null) return keyView(key);
        if (!rows.some((r) => r.id !== keyId && r.revoked_at === null)) {
          throw new TallyError('TALLY_ERR_INVALID_TRANSITION', 'this is the last active key of the tenant: create another one first');
        }
        const { rows: done } = await tx.query<{ id: string; created_at: Date; revoked_at: Date | null }>('UPDATE api_keys SET revoked_at = now() WHERE id = $1 RETURNING id, created_at, revoked_at', [keyId]);
        return keyView(done[0]!);
      }),
  };
}
