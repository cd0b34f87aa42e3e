import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { nextDelayMs, RETRY_DELAYS_MS } from '../../webhooks/schedule.js';
import { newSecret, sign, verify } from '../../webhooks/signature.js';

describe('outbound webhook signatures', () => {
  const secret = 'whsec_test_secret';
  const body = '{"id":"evt_1","type":"invoice.created","data":{"total":"10.00"}}';

  it('sign HMAC-SHA256 over "<t>.<body>", as a receiver following the README recomputes it', () => {
    const header = sign(secret, 1_800_000_000, body);
    // The receiver of the README, written without Tally's code.
    const parts = Object.fromEntries(header.split(',').map((p) => p.split('=') as [string, string]));
    const expected = createHmac('sha256', secret).update(`${parts.t}.${body}`).digest('hex');
    expect(parts.v1).toBe(expected);
    expect(header).toMatch(/^t=1800000000,v1=[0-9a-f]{64}$/);
  });

  it.each([
    ['the right secret and body', secret, body, 1_800_000_010, { ok: true, timestamp: 1_800_000_000 }],
    ['another secret', 'whsec_other', body, 1_800_000_010, { ok: false, reason: 'mismatch' }],
    ['a body changed by one byte', secret, body.replace('10.00', '10.01'), 1_800_000_010, { ok: false, reason: 'mismatch' }],
    ['a timestamp more than five minutes old', secret, body, 1_800_000_301, { ok: false, reason: 'too_old' }],
  ])('verify: %s', (_name, key, received, now, result) => {
    expect(verify(key, sign(secret, 1_800_000_000, body), received, now)).toEqual(result);
  });

  it.each(['', 't=abc,v1=00', 'v1=' + '0'.repeat(64), 't=1800000000'])('refuse the malformed header %j', (header) => {
    expect(verify(secret, header, body, 1_800_000_000)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('make secrets that do not repeat', () => {
    const a = newSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9_-]{32}$/);
    expect(newSecret()).not.toBe(a);
  });
});

describe('outbound webhook retry schedule', () => {
  it('keeps trying for more than a day, then stops', () => {
    const total = RETRY_DELAYS_MS.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(24 * 3_600_000);
    expect(total).toBeLessThan(30 * 3_600_000);
    expect(nextDelayMs(RETRY_DELAYS_MS.length + 1)).toBeNull();
  });

  it('grows, each delay within ±10 % of the schedule', () => {
    for (let n = 1; n <= RETRY_DELAYS_MS.length; n++) {
      expect(nextDelayMs(n, RETRY_DELAYS_MS, () => 0)).toBe(Math.floor(RETRY_DELAYS_MS[n - 1]! * 0.9));
      expect(nextDelayMs(n, RETRY_DELAYS_MS, () => 1)).toBe(Math.floor(RETRY_DELAYS_MS[n - 1]! * 1.1));
      if (n > 1) expect(RETRY_DELAYS_MS[n - 1]!).toBeGreaterThan(RETRY_DELAYS_MS[n - 2]!);
    }
  });
});
