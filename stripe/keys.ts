/**
 * Idempotency keys for Stripe writes, built only from Tally's own ids (never random), so the
 * same intended write always carries the same key: a retry, a rerun after a crash or a second
 * sync process sends exactly what the first did, and Stripe answers with the saved response.
 */
export type IdempotencyKey = string & { readonly __brand: 'IdempotencyKey' };

export function idempotencyKey(tenantId: string, ...parts: (string | number)[]): IdempotencyKey {
  const key = ['tally', tenantId, ...parts.map(String)].join(':');
  // Stripe accepts keys up to 255 characters; Tally's ids keep them far below that.
  if (key.length > 255) throw new Error(`idempotency key too long: ${key.slice(0, 64)}...`);
  return key as IdempotencyKey;
}
