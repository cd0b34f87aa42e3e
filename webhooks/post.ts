import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { isPublicAddress, PrivateAddressError, publicOnlyLookup } from './address.js';

/**
 * One webhook POST: the answer's status, or an error for no answer (a refused or dropped
 * connection, a private address, or nothing within `timeoutMs` — the whole exchange, not just
 * an idle socket). Redirects are not followed; the answer's body is read and dropped.
 */
export function postWebhook(url: string, headers: Record<string, string>, body: string, o: { timeoutMs: number; allowPrivate: boolean }): Promise<number> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const host = target.hostname.replace(/^\[|\]$/g, '');
    // A literal address never goes through the lookup: judge it here.
    if (!o.allowPrivate && isIP(host) !== 0 && !isPublicAddress(host)) return reject(new PrivateAddressError(host, host));
    const client = target.protocol === 'https:' ? https : http;
    const req = client.request(target, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      ...(o.allowPrivate ? {} : { lookup: publicOnlyLookup }),
    });
    const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer in ${o.timeoutMs} ms`), { name: 'TimeoutError' })), o.timeoutMs);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => {
        clearTimeout(timer);
        resolve(res.statusCode ?? 0);
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(body);
  });
}
