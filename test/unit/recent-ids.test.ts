import { describe, expect, it } from 'vitest';
import { RecentIds } from '../../ingest/dedup.js';

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const settled = (ok: boolean) => Promise.resolve(ok);
const tick = () => new Promise((r) => setImmediate(r));

describe('RecentIds', () => {
  it('answers pending with the outcome, committed with true, and forgets a failed append', async () => {
    const recent = new RecentIds(100);
    let commit!: (ok: boolean) => void;
    recent.track('t1', ['a', 'b'], new Promise<boolean>((r) => (commit = r)));
    const pending = recent.get('t1', 'a');
    expect(pending).toBeInstanceOf(Promise);
    commit(true);
    expect(await pending).toBe(true);
    expect(recent.get('t1', 'b')).toBe(true);
    expect(recent.get('t2', 'a')).toBeUndefined();

    recent.track('t1', ['c'], settled(false));
    await tick();
    expect(recent.get('t1', 'c')).toBeUndefined();
    expect(recent.size).toBe(2);
  });

  it('stays within its capacity and remembers at least half of it, the newest ids', async () => {
    const recent = new RecentIds(1_000);
    for (let i = 0; i < 50; i++) {
      recent.track('t', ids(`r${i}-`, 100), settled(true));
      await tick();
      expect(recent.size).toBeLessThanOrEqual(1_000);
    }
    expect(recent.size).toBeGreaterThanOrEqual(500);
    // The newest request's ids are known, the first request's forgotten.
    expect(ids('r49-', 100).every((id) => recent.get('t', id) === true)).toBe(true);
    expect(ids('r0-', 100).some((id) => recent.get('t', id) !== undefined)).toBe(false);
  });

  it('a tenant sending a flood forgets its own ids, not a quiet tenant’s', async () => {
    const recent = new RecentIds(1_000);
    recent.track('quiet', ids('q', 50), settled(true));
    await tick();
    for (let i = 0; i < 100; i++) {
      recent.track('flood', ids(`f${i}-`, 100), settled(true));
      await tick();
    }
    expect(ids('q', 50).every((id) => recent.get('quiet', id) === true)).toBe(true);
    expect(recent.size).toBeLessThanOrEqual(1_000);
  });

  it('never forgets a pending pair, however many ids follow it', async () => {
    const recent = new RecentIds(1_000);
    let commit!: (ok: boolean) => void;
    recent.track('t', ['slow'], new Promise<boolean>((r) => (commit = r)));
    for (let i = 0; i < 40; i++) {
      recent.track('t', ids(`n${i}-`, 100), settled(true));
      await tick();
    }
    const pending = recent.get('t', 'slow');
    expect(pending).toBeInstanceOf(Promise);
    commit(true);
    expect(await pending).toBe(true);
    expect(recent.get('t', 'slow')).toBe(true);
  });

  it('ids that share one fingerprint are told apart by their text, and cost a bounded search', async () => {
    // Every id hashes alike: each lookup would walk all of them without the bound.
    const recent = new RecentIds(10_000, () => 7);
    for (let i = 0; i < 100; i++) {
      recent.track('t', ids(`x${i}-`, 10), settled(true));
      await tick();
    }
    expect(ids('x99-', 10).every((id) => recent.get('t', id) === true)).toBe(true);
    expect(recent.get('t', 'y')).toBeUndefined();
    expect(recent.get('t', 'x0-0')).toBeUndefined(); // forgotten early: only that tenant pays
    expect(recent.size).toBeLessThanOrEqual(64);
    recent.track('u', ['x0-0'], settled(true));
    await tick();
    expect(recent.get('u', 'x0-0')).toBe(true);
  });

  it('remembers nothing with capacity 0', () => {
    const recent = new RecentIds(0);
    recent.track('t', ['a'], settled(true));
    expect(recent.get('t', 'a')).toBeUndefined();
    expect(recent.size).toBe(0);
  });
});
