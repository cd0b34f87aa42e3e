import { gzipSync } from 'node:zlib';
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/paths.js';
import { startTestApi, type TestApi, textRequest } from '../support/api.js';
import { freePort } from '../support/ports.js';

let api: TestApi;
const LIMIT = 4096;

beforeAll(async () => {
  api = await startTestApi({
    env: { TALLY_MAX_BODY_BYTES: String(LIMIT), TALLY_AUTH_CACHE_SECONDS: '0' },
    extraRoutes: [
      { method: 'POST', pattern: '/test/echo', access: 'public', handler: (req) => ({ status: 200, body: { bytes: req.body.length } }) },
      {
        method: 'POST',
        pattern: '/test/boom',
        access: 'public',
        handler: () => {
          throw new Error('secret internal detail');
        },
      },
    ],
  });
});
afterAll(async () => {
  await api.stop();
});

const call = (method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}) => textRequest(api.url, method, path, init);

/** Sends raw bytes over one socket and returns the first response's status line and body. */
function rawRequest(payload: string | Buffer): Promise<string> {
  const { port } = new URL(api.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    let data = '';
    socket.on('data', (d) => (data += d.toString()));
    socket.on('error', (e) => (data === '' ? reject(e) : resolve(data)));
    socket.on('close', () => resolve(data));
    socket.write(payload);
    setTimeout(() => socket.end(), 1500);
  });
}

describe('health, readiness and metrics', () => {
  it('GET /healthz answers 200 without a key', async () => {
    expect(await call('GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('GET /readyz checks both stores', async () => {
    expect(await call('GET', '/readyz')).toMatchObject({ status: 200, body: { status: 'ready', checks: { clickhouse: 'ok', postgres: 'ok' } } });
  });

  it('GET /metrics exposes default process metrics and the HTTP metrics', async () => {
    await call('GET', '/healthz');
    const { status, body, headers } = await call('GET', '/metrics');
    expect(status).toBe(200);
    expect(headers.get('content-type')).toMatch(/text\/plain/);
    expect(body).toMatch(/^process_cpu_user_seconds_total /m);
    expect(body).toMatch(/^nodejs_heap_size_used_bytes /m);
    expect(body).toMatch(/^tally_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/m);
    expect(body).toMatch(/^tally_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/healthz"\} \d+/m);
    expect(body).toMatch(/^tally_http_requests_in_flight /m);
  });

  it('labels unknown paths as one bounded route, not by their raw path', async () => {
    await call('GET', '/no/such/path/123');
    const { body } = await call('GET', '/metrics');
    expect(body).toMatch(/route="unmatched",status="404"/);
    expect(body).not.toMatch(/no\/such\/path/);
  });
});

describe('errors and routing', () => {
  it('unknown route: 404 in the error shape', async () => {
    const r = await call('GET', '/v1/nothing');
    expect(r.status).toBe(404);
    expect(r.body.error).toMatchObject({ code: 'TALLY_ERR_NOT_FOUND', message: expect.stringContaining('/v1/nothing') });
  });

  it('every answer says its Content-Type is to be believed (nosniff), once', async () => {
    for (const [method, path] of [['GET', '/v1/nothing'], ['GET', '/healthz'], ['GET', '/metrics'], ['POST', '/test/echo']] as const) {
      expect((await call(method, path, method === 'POST' ? { body: '{}' } : {})).headers.get('x-content-type-options'), path).toBe('nosniff');
    }
  });

  it('known route, wrong method: 405 with Allow', async () => {
    const r = await call('DELETE', '/v1/tenants');
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('POST, GET, HEAD');
    expect(r.body.error.code).toBe('TALLY_ERR_METHOD_NOT_ALLOWED');
  });

  it('a request id is generated, or the caller’s is echoed, in the header and in errors', async () => {
    const generated = await call('GET', '/v1/nothing');
    expect(generated.headers.get('x-request-id')).toMatch(/^req_[0-9a-z]{20}$/);
    expect(generated.body.error.request_id).toBe(generated.headers.get('x-request-id'));
    const given = await call('GET', '/healthz', { headers: { 'x-request-id': 'trace-abc.123' } });
    expect(given.headers.get('x-request-id')).toBe('trace-abc.123');
    const unsafe = await call('GET', '/healthz', { headers: { 'x-request-id': 'has spaces and <html>' } });
    expect(unsafe.headers.get('x-request-id')).toMatch(/^req_/);
  });

  it('an unexpected error is a 500 that leaks no detail', async () => {
    const r = await call('POST', '/test/boom', { body: '{}' });
    expect(r.status).toBe(500);
    expect(r.body.error.code).toBe('TALLY_ERR_INTERNAL');
    expect(JSON.stringify(r.body)).not.toContain('secret internal detail');
  });
});

describe('body size limit', () => {
  it('accepts a body at the limit', async () => {
    expect(await call('POST', '/test/echo', { body: 'x'.repeat(LIMIT) })).toMatchObject({ status: 200, body: { bytes: LIMIT } });
  });

  it('refuses a declared Content-Length over the limit with 413 before reading it', async () => {
    const r = await call('POST', '/test/echo', { body: 'x'.repeat(LIMIT + 1) });
    expect(r.status).toBe(413);
    expect(r.body.error).toMatchObject({ code: 'TALLY_ERR_PAYLOAD_TOO_LARGE', message: expect.stringContaining(String(LIMIT)) });
  });

  it('refuses a chunked body that grows over the limit with 413', async () => {
    const chunk = 'y'.repeat(1000);
    const chunks = Array.from({ length: 6 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('');
    const reply = await rawRequest(`POST /test/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`);
    expect(reply).toMatch(/^HTTP\/1.1 413/);
    expect(reply).toContain('TALLY_ERR_PAYLOAD_TOO_LARGE');
  });

  it('the limit applies to admin routes too', async () => {
    const r = await call('POST', '/v1/tenants', { headers: api.admin, body: JSON.stringify({ name: 'x'.repeat(LIMIT) }) });
    expect(r.status).toBe(413);
  });
});

describe('authentication', () => {
  it.each([
    ['no Authorization header', {}, /missing API key/],
    ['a non-Bearer scheme', { authorization: 'Basic dXNlcjpwYXNz' }, /malformed Authorization/],
    ['an empty Bearer token', { authorization: 'Bearer ' }, /malformed Authorization/],
    ['a wrong admin key', { authorization: 'Bearer test-admin-key-0123456789abcdeX' }, /invalid API key/],
    ['a well-formed but unknown tenant key', { authorization: `Bearer tly_0123456789abcdef_${'a'.repeat(43)}` }, /invalid API key/],
  ])('401 for %s on an admin route', async (_what, headers, message) => {
    const r = await call('POST', '/v1/tenants', { headers: { 'content-type': 'application/json', ...headers }, body: '{"name":"x"}' });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Bearer');
    expect(r.body.error).toMatchObject({ code: 'TALLY_ERR_UNAUTHORIZED', message: expect.stringMatching(message) });
  });

  it('401 for a missing or wrong key on a tenant route', async () => {
    expect((await call('GET', '/v1/tenant')).status).toBe(401);
    const { key } = await api.tenant('k');
    const tampered = key.slice(0, -2) + (key.endsWith('AA') ? 'BB' : 'AA');
    const r = await call('GET', '/v1/tenant', { headers: { authorization: `Bearer ${tampered}` } });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('TALLY_ERR_UNAUTHORIZED');
  });

  it('a tenant key cannot create tenants (403), and the admin key is not a tenant key (403)', async () => {
    const t = await api.tenant('tenant-a');
    const r = await call('POST', '/v1/tenants', { headers: t.auth, body: '{"name":"evil"}' });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('TALLY_ERR_FORBIDDEN');
    const a = await call('GET', '/v1/tenant', { headers: api.admin });
    expect(a.status).toBe(403);
    const count = await api.stores.postgres.query<{ n: string }>("SELECT count(*) AS n FROM tenants WHERE name = 'evil'");
    expect(count.rows[0]!.n).toBe('0');
  });
});

describe('tenants', () => {
  it('POST /v1/tenants returns id, name and a working key, stored only as a hash', async () => {
    const r = await call('POST', '/v1/tenants', { headers: api.admin, body: JSON.stringify({ name: '  Acme Inc  ' }) });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ id: expect.stringMatching(/^ten_/), name: 'Acme Inc', created_at: expect.any(String), api_key: expect.stringMatching(/^tly_/) });
    const me = await call('GET', '/v1/tenant', { headers: { authorization: `Bearer ${r.body.api_key}` } });
    expect(me).toMatchObject({ status: 200, body: { id: r.body.id, name: 'Acme Inc' } });

    const stored = await api.stores.postgres.query<{ secret_hash: Buffer }>('SELECT secret_hash FROM api_keys WHERE tenant_id = $1', [r.body.id]);
    expect(stored.rows).toHaveLength(1);
    expect(stored.rows[0]!.secret_hash.toString('utf8')).not.toContain(r.body.api_key);
    expect(stored.rows[0]!.secret_hash.length).toBe(32);
  });

  it('rotates keys: a second key works, the first is revoked, the last active one cannot be', async () => {
    const t = await api.tenant('rotate');
    const first = (await call('GET', '/v1/tenant/api_keys', { headers: t.auth })).body.data as { id: string }[];
    expect(first).toHaveLength(1);
    // It takes no fields: one sent anyway is refused, and no key is made.
    const named = await call('POST', '/v1/tenant/api_keys', { headers: t.auth, body: JSON.stringify({ name: 'ci' }) });
    expect(named.body.error).toMatchObject({ code: 'TALLY_ERR_UNKNOWN_FIELD', field: 'name' });
    expect((await call('GET', '/v1/tenant/api_keys', { headers: t.auth })).body.data).toHaveLength(1);
    const made = await call('POST', '/v1/tenant/api_keys', { headers: t.auth });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ id: expect.any(String), revoked_at: null, api_key: expect.stringMatching(/^tly_/) });
    const next = { authorization: `Bearer ${made.body.api_key}` };
    expect((await call('GET', '/v1/tenant', { headers: next })).body.id).toBe(t.id);
    const revoked = await call('DELETE', `/v1/tenant/api_keys/${first[0]!.id}`, { headers: next });
    expect(revoked.body).toMatchObject({ id: first[0]!.id, revoked_at: expect.any(String) });
    // The API-key cache of this server is off (TALLY_AUTH_CACHE_SECONDS=0): revoked means refused now.
    expect((await call('GET', '/v1/tenant', { headers: t.auth })).status).toBe(401);
    const last = await call('DELETE', `/v1/tenant/api_keys/${made.body.id}`, { headers: next });
    expect([last.status, last.body.error.code]).toEqual([409, 'TALLY_ERR_INVALID_TRANSITION']);
    // Another tenant's key ids are unknown here.
    const other = await api.tenant('rotate-other');
    expect((await call('DELETE', `/v1/tenant/api_keys/${made.body.id}`, { headers: other.auth })).status).toBe(404);
  });

  it('each tenant sees only itself', async () => {
    const a = await api.tenant('a');
    const b = await api.tenant('b');
    expect((await call('GET', '/v1/tenant', { headers: a.auth })).body.id).toBe(a.id);
    expect((await call('GET', '/v1/tenant', { headers: b.auth })).body.id).toBe(b.id);
  });

  it.each([
    ['a missing name', '{}', 400, 'TALLY_ERR_MISSING_FIELD', 'name'],
    ['a name of the wrong type', '{"name": 42}', 400, 'TALLY_ERR_INVALID_TYPE', 'name'],
    ['an empty name', '{"name": "   "}', 400, 'TALLY_ERR_INVALID_VALUE', 'name'],
    ['a name too long', JSON.stringify({ name: 'n'.repeat(201) }), 400, 'TALLY_ERR_TOO_LONG', 'name'],
    ['an unknown field', '{"name": "x", "plan": "gold"}', 400, 'TALLY_ERR_UNKNOWN_FIELD', 'plan'],
    ['malformed JSON', '{"name": ', 400, 'TALLY_ERR_INVALID_JSON', undefined],
    ['a JSON array', '[]', 400, 'TALLY_ERR_INVALID_TYPE', undefined],
    ['JSON null', 'null', 400, 'TALLY_ERR_INVALID_TYPE', undefined],
  ])('refuses %s with a stable code and the field', async (_what, body, status, code, field) => {
    const before = await api.stores.postgres.query<{ n: string }>('SELECT count(*) AS n FROM tenants');
    const r = await call('POST', '/v1/tenants', { headers: api.admin, body });
    expect(r.status).toBe(status);
    expect(r.body.error.code).toBe(code);
    expect(r.body.error.field).toBe(field);
    const after = await api.stores.postgres.query<{ n: string }>('SELECT count(*) AS n FROM tenants');
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
  });

  it('refuses a non-JSON content type with 415', async () => {
    const r = await call('POST', '/v1/tenants', { headers: { ...api.admin, 'content-type': 'text/plain' }, body: '{"name":"x"}' });
    expect(r.status).toBe(415);
    expect(r.body.error.code).toBe('TALLY_ERR_UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers HEAD as GET without the body, and the connection goes on after it', async () => {
    const head = await fetch(`${api.url}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(JSON.stringify({ status: 'ok' }).length));
    expect(await head.text()).toBe('');
    expect((await fetch(`${api.url}/v1/tenants`, { method: 'HEAD' })).status).toBe(401);
    // A HEAD and a GET on one connection: two answers, one body.
    const both = await rawRequest('HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(both.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(2);
    expect(both.match(/\{"status":"ok"\}/g)).toHaveLength(1);
    // A HEAD refused with its body still to come closes the connection, as a GET's does.
    const closed = await new Promise<string>((resolve) => {
      const socket = net.connect(Number(new URL(api.url).port), '127.0.0.1');
      let data = '';
      socket.on('data', (d) => (data += d.toString()));
      socket.on('close', () => resolve(data));
      socket.write('HEAD /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n');
      setTimeout(() => resolve(`still open: ${data}`), 3000);
    });
    expect(closed).toMatch(/^HTTP\/1\.1 413 /);
    // A route without GET refuses HEAD, and names what it takes.
    const post = await fetch(`${api.url}/v1/events`, { method: 'HEAD' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('POST');
    // Counted as HEAD, not as the GET it ran.
    const { body } = await call('GET', '/metrics');
    expect(body).toMatch(/^tally_http_requests_total\{method="HEAD",route="\/healthz",status="200"\} [1-9]/m);
    expect(body).toMatch(/^tally_http_requests_total\{method="HEAD",route="\/healthz",status="413"\} 1$/m);
  });

  it('refuses a number JSON.parse would change, naming its field, and stores nothing', async () => {
    const tenant = await api.tenant('numbers');
    const headers = { ...tenant.auth, 'content-type': 'application/json' };
    for (const [days, field] of [
      ['1e-400', 'days_until_due'],
      ['30.0000000000000001', 'days_until_due'],
    ]) {
      const r = await call('POST', '/v1/customers', { headers, body: `{"id":"n","name":"N","currency":"USD","collection_method":"send_invoice","days_until_due":${days}}` });
      expect(r.status, days).toBe(400);
      expect(r.body.error, days).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field });
    }
    const deep = await call('POST', '/v1/customers', { headers, body: '{"id":"n","name":"N","currency":"USD","metadata":{"a":[1,{"b":9007199254740993}]}}' });
    expect(deep.body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_VALUE', field: 'metadata.a[1].b' });
    expect((await call('GET', '/v1/customers/n', { headers })).status).toBe(404);
    // What a double keeps is taken as it is.
    const ok = await call('POST', '/v1/customers', { headers, body: '{"id":"n","name":"N","currency":"USD","collection_method":"send_invoice","days_until_due":3e1}' });
    expect(ok.body).toMatchObject({ days_until_due: 30 });
  });

  it('refuses a compressed body and a charset other than UTF-8 with 415, naming the header; takes UTF-8 declared', async () => {
    const gz = gzipSync('{"name":"x"}');
    for (const path of ['/v1/tenants', '/v1/events']) {
      const res = await fetch(`${api.url}${path}`, { method: 'POST', headers: { ...api.admin, 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gz });
      expect(res.status, path).toBe(415);
      expect(((await res.json()) as { error: unknown }).error).toMatchObject({ code: 'TALLY_ERR_UNSUPPORTED_MEDIA_TYPE', field: 'Content-Encoding' });
    }
    const utf16 = await call('POST', '/v1/tenants', { headers: { ...api.admin, 'content-type': 'application/json; charset=utf-16' }, body: '{"name":"x"}' });
    expect(utf16.status).toBe(415);
    expect(utf16.body.error).toMatchObject({ code: 'TALLY_ERR_UNSUPPORTED_MEDIA_TYPE', field: 'Content-Type' });
    const tenant = await api.tenant('charsets');
    const latin1 = await call('POST', '/v1/events', { headers: { ...tenant.auth, 'content-type': 'application/x-ndjson; charset=ISO-8859-1' }, body: '{}' });
    expect(latin1.status).toBe(415);
    // A second charset declares one too; a CloudEvent in binary mode is held to the same rule.
    const twice = await call('POST', '/v1/tenants', { headers: { ...api.admin, 'content-type': 'application/json; charset=utf-8; charset=latin1' }, body: '{"name":"x"}' });
    expect(twice.status).toBe(415);
    const ceHeaders = { ...tenant.auth, 'ce-specversion': '1.0', 'ce-id': 'c1', 'ce-source': 's', 'ce-type': 'api_calls', 'ce-subject': 'acme' };
    const binary = await call('POST', '/v1/events', { headers: { ...ceHeaders, 'content-type': 'application/json; charset=latin1' }, body: '{"k":"v"}' });
    expect(binary.status).toBe(415);
    expect(binary.body.error).toMatchObject({ code: 'TALLY_ERR_UNSUPPORTED_MEDIA_TYPE', field: 'Content-Type' });
    expect((await call('POST', '/v1/events', { headers: { ...ceHeaders, 'content-type': 'application/json; charset=utf-8' }, body: '{"k":"v"}' })).status).toBe(202);
    // Of two ce-id headers either could be the id: refused, naming it (fetch would join them).
    const body = '{"k":"v"}';
    const twoIds = await rawRequest(
      `POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: ${tenant.auth.authorization}\r\nContent-Type: application/json\r\nce-specversion: 1.0\r\nce-id: c2\r\nce-id: c3\r\nce-source: s\r\nce-type: api_calls\r\nce-subject: acme\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    expect(twoIds).toMatch(/^HTTP\/1\.1 400 /);
    expect(twoIds).toContain('"field":"ce-id"');
    // Refused before the key is looked up: a key the node has not cached (this one is made up)
    // left a lookup nobody awaited, whose 401 was an unhandled rejection; and nothing is left
    // counted in flight (the scrape below is the one request in flight).
    const madeUp = `Bearer tly_0123456789abcdef_${'a'.repeat(43)}`;
    const unknownKey = await rawRequest(
      `POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: ${madeUp}\r\nContent-Type: application/json\r\nce-id: c4\r\nce-id: c5\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    expect(unknownKey).toMatch(/^HTTP\/1\.1 400 /);
    expect((await call('GET', '/metrics')).body).toMatch(/^tally_http_requests_in_flight 1$/m);
    for (const type of ['application/json; charset=UTF-8', 'application/json;charset="utf-8"']) {
      expect((await call('POST', '/v1/tenants', { headers: { ...api.admin, 'content-type': type, 'content-encoding': 'identity' }, body: '{"name":"x"}' })).status, type).toBe(201);
    }
  });
});

describe('the port', () => {
  /**
   * A process holding `port` (0: any) with the server of dist/http/server.js, or with uWS's own
   * defaults (SO_REUSEPORT: a second process may share such a port). It prints the port it
   * holds, or "refused", and holds it until killed. Processes, not this one: what sharing a port
   * does is between processes.
   */
  function holder(port: number, kind: 'tally' | 'uws'): Promise<{ port: number | 'refused'; child: ChildProcess }> {
    const tally = `const { createHttpServer } = await import(${JSON.stringify(path.join(packageRoot(), 'dist/http/server.js'))});
      const { createRegistry, httpMetrics } = await import(${JSON.stringify(path.join(packageRoot(), 'dist/core/metrics.js'))});
      const { createLogger } = await import(${JSON.stringify(path.join(packageRoot(), 'dist/core/log.js'))});
      const s = createHttpServer({ host: '127.0.0.1', port: ${port}, maxBodyBytes: 1024, shutdownTimeoutMs: 1000, authenticator: {}, adminEnabled: false,
        metrics: httpMetrics(createRegistry()), logger: createLogger({ logLevel: 'silent' }), routes: [] });
      s.listen().then((p) => console.log(p), () => { console.log('refused'); process.exit(0); });`;
    const plain = `const { default: uws } = await import('@trufflesuite/uws-js-unofficial');
      uws.App().listen('127.0.0.1', ${port}, (s) => { console.log(s ? uws.us_socket_local_port(s) : 'refused'); if (!s) process.exit(0); });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', kind === 'tally' ? tally : plain], { cwd: packageRoot(), stdio: ['ignore', 'pipe', 'inherit'] });
    return new Promise((resolve) =>
      child.stdout.once('data', (d: Buffer) => {
        const said = d.toString().trim();
        resolve({ port: said === 'refused' ? 'refused' : Number(said), child });
      }),
    );
  }

  it('a server is refused a port another process holds, even one that would share it', async () => {
    const other = await holder(await freePort(), 'uws');
    try {
      expect(other.port).not.toBe('refused');
      const second = await holder(other.port as number, 'tally');
      second.child.kill();
      expect(second.port).toBe('refused');
    } finally {
      other.child.kill();
    }
  });

  it("and no other process shares a server's port", async () => {
    const first = await holder(await freePort(), 'tally');
    try {
      for (const kind of ['tally', 'uws'] as const) {
        const second = await holder(first.port as number, kind);
        second.child.kill();
        expect(second.port, kind).toBe('refused');
      }
    } finally {
      first.child.kill();
    }
  });
});
