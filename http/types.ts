import type { Principal } from '../core/auth.js';
import type { OperationDoc } from './openapi-doc.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Who may call a route: anyone, the admin key only, or a tenant key only. */
export type Access = 'public' | 'admin' | 'tenant';

/** A request as handlers see it: plain data, copied out of uWS before any await. */
export interface Request {
  readonly method: Method;
  readonly path: string;
  /** The route pattern that matched, e.g. `/v1/meters/:key` (the metrics label). */
  readonly route: string;
  readonly query: URLSearchParams;
  /** Lower-cased header names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly params: Readonly<Record<string, string>>;
  readonly body: Buffer;
  readonly requestId: string;
  readonly principal: Principal | undefined;
}

export interface Reply {
  status: number;
  /** An object is sent as JSON; a string or Buffer as it is, with `contentType`. */
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface Route {
  method: Method;
  pattern: string;
  access: Access;
  /** Overrides the server's body limit for this route. */
  maxBodyBytes?: number;
  /** Its operation in `GET /openapi.json`; the document refuses a route without one. */
  doc?: OperationDoc;
  handler: (req: Request) => Reply | Promise<Reply>;
}

/** The tenant id of an authenticated tenant request (routes with access `tenant` always have one). */
export function tenantOf(req: Request): string {
  if (req.principal?.kind !== 'tenant') throw new Error(`route ${req.route} reached without a tenant principal`);
  return req.principal.tenantId;
}

/** Who made a tenant request, for audit trails: `api_key:<key id>`. */
export function actorOf(req: Request): string {
  if (req.principal?.kind !== 'tenant') throw new Error(`route ${req.route} reached without a tenant principal`);
  return `api_key:${req.principal.keyId}`;
}
