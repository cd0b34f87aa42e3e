import net from 'node:net';

/**
 * HTTP/1.1 over a bare socket, so the fuzz test sends exactly the request line it means: `fetch`
 * and `http.request` normalise or refuse paths such as `/v1/customers/%E0%A4%A` or ones with
 * raw non-ASCII bytes, which are precisely the paths worth sending.
 */
export interface RawRequest {
  method: string;
  /** Written as it is (as UTF-8), path and query together. */
  rawPath: string;
  headers: Record<string, string>;
  body: Buffer;
}

export type RawResponse =
  | { kind: 'response'; status: number; headers: Record<string, string>; body: string; ms: number }
  /** The connection failed, closed without a complete response, or no answer came in time. */
  | { kind: 'no-response'; reason: string; ms: number };

export function rawRequest(port: number, req: RawRequest, timeoutMs: number): Promise<RawResponse> {
  const started = Date.now();
  const head = [`${req.method} ${req.rawPath} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', `Content-Length: ${req.body.length}`];
  for (const [k, v] of Object.entries(req.headers)) head.push(`${k}: ${v}`);
  const bytes = Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'utf8'), req.body]);

  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let settled = false;
    const settle = (r: RawResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const noResponse = (reason: string) => settle({ kind: 'no-response', reason, ms: Date.now() - started });
    const timer = setTimeout(() => noResponse(`no complete response in ${timeoutMs} ms`), timeoutMs);
    // Not `end`: a half-closed socket is a client gone away to uWS, which then drops the request.
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      const parsed = parse(Buffer.concat(chunks));
      if (parsed !== undefined) settle({ kind: 'response', ...parsed, ms: Date.now() - started });
    });
    socket.on('error', (e) => {
      // A server may answer early (413) and close while the request is still being written.
      const parsed = parse(Buffer.concat(chunks), true);
      if (parsed !== undefined) settle({ kind: 'response', ...parsed, ms: Date.now() - started });
      else noResponse(`socket error: ${e.message}`);
    });
    socket.on('close', () => {
      const parsed = parse(Buffer.concat(chunks), true);
      if (parsed !== undefined) settle({ kind: 'response', ...parsed, ms: Date.now() - started });
      else noResponse(chunks.length === 0 ? 'connection closed without a response' : `connection closed mid-response: ${Buffer.concat(chunks).toString('latin1').slice(0, 300)}`);
    });
  });
}

/** A complete response from the bytes so far, or undefined while it is incomplete. */
function parse(buf: Buffer, ended = false): { status: number; headers: Record<string, string>; body: string } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (status === null) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = buf.subarray(end + 4);
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
    const body = dechunk(rest);
    return body === undefined ? undefined : { status: Number(status[1]), headers, body: body.toString('utf8') };
  }
  const length = headers['content-length'];
  if (length !== undefined) {
    if (rest.length < Number(length)) return undefined;
    return { status: Number(status[1]), headers, body: rest.subarray(0, Number(length)).toString('utf8') };
  }
  return ended ? { status: Number(status[1]), headers, body: rest.toString('utf8') } : undefined;
}

function dechunk(buf: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
    if (Number.isNaN(size)) return undefined;
    if (size === 0) return Buffer.concat(parts);
    if (buf.length < eol + 2 + size + 2) return undefined;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}
