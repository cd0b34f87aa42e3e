import { describe, expect, it } from 'vitest';
import { endpointKey, SenderShares } from '../../webhooks/senders.js';

/**
 * What a dispatcher's claim may take: endpoints being sent to or set aside after a failure are
 * left out, and a tenant's share (half the senders) shrinks by the senders it holds and its
 * failed sends, each until its retry is due.
 */
const A1 = endpointKey('a', 'we_1');
const A2 = endpointKey('a', 'we_2');
const B1 = endpointKey('b', 'we_1');

describe('sender shares', () => {
  it.each<[string, (s: SenderShares) => void, { endpoints: string[]; tenants: string[]; senders: number[] }]>([
    ['nothing held: every tenant may take its whole share', () => undefined, { endpoints: [], tenants: [], senders: [] }],
    ['an endpoint being sent to is left out and costs its tenant a sender', (s) => s.take('a', A1), { endpoints: [A1], tenants: ['a'], senders: [3] }],
    [
      'a tenant holding its whole share may take no more',
      (s) => ['1', '2', '3', '4'].forEach((n) => s.take('a', endpointKey('a', n))),
      { endpoints: ['1', '2', '3', '4'].map((n) => endpointKey('a', n)), tenants: ['a'], senders: [0] },
    ],
    [
      'a released sender comes back; other tenants are not affected',
      (s) => {
        s.take('a', A1);
        s.take('b', B1);
        s.release('a', A1);
      },
      { endpoints: [B1], tenants: ['b'], senders: [3] },
    ],
    [
      'a failed send sets its endpoint aside and costs its tenant a sender until its retry',
      (s) => {
        s.take('a', A1);
        s.failed('a', A1, 2_000);
        s.release('a', A1);
      },
      { endpoints: [A1], tenants: ['a'], senders: [3] },
    ],
    [
      'failures whose retries are due no longer count',
      (s) => {
        s.failed('a', A1, 500);
        s.failed('a', A2, 2_000);
      },
      { endpoints: [A2], tenants: ['a'], senders: [3] },
    ],
    [
      'failures and senders held add up, never below zero',
      (s) => {
        for (const n of ['1', '2', '3']) s.failed('a', endpointKey('a', n), 2_000);
        s.take('a', endpointKey('a', '4'));
        s.take('a', endpointKey('a', '5'));
      },
      { endpoints: ['1', '2', '3', '4', '5'].map((n) => endpointKey('a', n)).sort(), tenants: ['a'], senders: [0] },
    ],
  ])('%s', (_case, act, expected) => {
    const shares = new SenderShares(4);
    act(shares);
    const limits = shares.limits(1_000);
    expect({ ...limits, endpoints: [...limits.endpoints].sort() }).toEqual({ ...expected, endpoints: [...expected.endpoints].sort(), perTenant: 4 });
  });
});
