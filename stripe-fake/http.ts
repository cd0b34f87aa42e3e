import type { IncomingMessage } from 'node:http';
import { errors } from './errors.js';

/** The transport around the API: reading a request body, and the API key a request carries. */
export const MAX_BODY_BYTES = 1024 * 1024;

export class BodyTooLarge extends Error {}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyTooLarge());
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The API key from `Authorization: Bearer sk_test_…` (or Basic with the key as user name). */
export function apiKeyOf(header: string | undefined): string {
  if (header === undefined || header.trim() === '') throw errors.noApiKey();
  let key: string | undefined;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  const basic = /^Basic\s+(\S+)\s*$/i.exec(header);
  if (bearer !== null) key = bearer[1];
  else if (basic !== null) key = Buffer.from(basic[1] ?? '', 'base64').toString('utf8').split(':')[0];
  if (key === undefined || key === '') throw errors.noApiKey();
  if (!/^(sk|rk)_test_[A-Za-z0-9_]+$/.test(key)) throw errors.invalidApiKey(key);
  return key;
}
