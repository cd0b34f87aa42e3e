import { z } from 'zod';
import { TallyError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { PostgresStore } from '../core/postgres.js';
import { EVENT_TYPES } from './events.js';
import { newSecret } from './signature.js';
import { isPrivateHost } from './address.js';

/**
 * A tenant's webhook endpoints. The signing secret is shown once, when the endpoint is made
 * (as Stripe does); afterwards only its last four characters.
 */
const Url = z
  .string()
  .max(2000)
  .refine((u) => {
    try {
      const p = new URL(u);
      return (p.protocol === 'https:' || p.protocol === 'http:') && p.username === '' && p.password === '';
    } catch {
      return false;
    }
  }, 'must be an http or https URL without credentials');

const Events = z
  .array(z.enum(['*', ...EVENT_TYPES], { message: `must be "*" or one of ${EVENT_TYPES.join(', ')}` }))
  .min(1)
  .max(EVENT_TYPES.length + 1)
  .transform((e) => [...new Set(e)]);

export const CreateEndpoint = z.strictObject({
  url: Url,
  events: Events.optional(),
  description: z.string().trim().max(500).optional(),
});

export const UpdateEndpoint = z
  .strictObject({ url: Url.optional(), events: Events.optional(), description: z.string().trim().max(500).nullable().optional(), disabled: z.boolean().optional() })
  .refine((u) => Object.values(u).some((v) => v !== undefined), { message: 'give at least one of url, events, description, disabled', path: ['url'] });

export interface EndpointView {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  disabled: boolean;
  secret_hint: string;
  created_at: string;
  updated_at: string;
}

interface Row {
  id: string;
  url: string;
  secret: string;
  events: string[];
  description: string | null;
  disabled: boolean;
  created_at: Date;
  updated_at: Date;
}

const toView = (r: Row): EndpointView => ({
  id: r.id,
  url: r.url,
  events: r.events,
  description: r.description,
  disabled: r.disabled,
  secret_hint: `whsec_…${r.secret.slice(-4)}`,
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
});

const notFound = (id: string) => new TallyError('TALLY_ERR_NOT_FOUND', `no webhook endpoint ${JSON.stringify(id)}`, { field: 'id' });

export class EndpointService {
  constructor(
    private readonly pg: PostgresStore,
    /** TALLY_WEBHOOK_ALLOW_PRIVATE_URLS (see address.ts). */
    private readonly allowPrivate = false,
  ) {}

  private checkHost(url: string | undefined): void {
    if (url === undefined || this.allowPrivate) return;
    if (isPrivateHost(new URL(url).hostname)) {
      throw new TallyError('TALLY_ERR_INVALID_VALUE', 'url must reach a public address, not one inside the network (TALLY_WEBHOOK_ALLOW_PRIVATE_URLS allows it)', { field: 'url' });
    }
  }

  async create(tenantId: string, input: z.output<typeof CreateEndpoint>): Promise<EndpointView & { secret: string }> {
    this.checkHost(input.url);
    const secret = newSecret();
    const { rows } = await this.pg.query<Row>(
      'INSERT INTO webhook_endpoints (tenant_id, id, url, secret, events, description) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *',
      [tenantId, newId('we'), input.url, secret, input.events ?? ['*'], input.description ?? null],
    );
    return { ...toView(rows[0]!), secret };
  }

  async list(tenantId: string): Promise<EndpointView[]> {
    const { rows } = await this.pg.query<Row>('SELECT * FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at, id', [tenantId]);
    return rows.map(toView);
  }

  async get(tenantId: string, id: string): Promise<EndpointView> {
    const { rows } = await this.pg.query<Row>('SELECT * FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
    if (rows[0] === undefined) throw notFound(id);
    return toView(rows[0]);
  }

  async update(tenantId: string, id: string, u: z.output<typeof UpdateEndpoint>): Promise<EndpointView> {
    this.checkHost(u.url);
    const { rows } = await this.pg.query<Row>(
      `UPDATE webhook_endpoints SET url = COALESCE($3, url), events = COALESCE($4, events),
              description = CASE WHEN $5 THEN $6 ELSE description END, disabled = COALESCE($7, disabled), updated_at = now()
        WHERE tenant_id = $1 AND id = $2 RETURNING *`,
      [tenantId, id, u.url ?? null, u.events ?? null, u.description !== undefined, u.description ?? null, u.disabled ?? null],
    );
    if (rows[0] === undefined) throw notFound(id);
    return toView(rows[0]);
  }

  /** Removes the endpoint; its pending deliveries fail (their log stays). */
  async remove(tenantId: string, id: string): Promise<void> {
    await this.pg.transaction(async (tx) => {
      const { rowCount } = await tx.query('DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
      if (rowCount === 0) throw notFound(id);
      await tx.query(
        "UPDATE webhook_deliveries SET state = 'failed', last_error = 'endpoint deleted', locked_by = NULL, locked_until = NULL, updated_at = now() WHERE tenant_id = $1 AND endpoint_id = $2 AND state = 'pending'",
        [tenantId, id],
      );
    });
  }
}
