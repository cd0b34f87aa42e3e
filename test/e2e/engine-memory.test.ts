import os from 'node:os';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { startTally } from '../support/cli.js';
import { preparedDataDir } from '../support/stores.js';

/**
 * The embedded ClickHouse holds at most TALLY_CHDB_MAX_MEMORY (default half the machine's
 * memory), which a process reports as tally_clickhouse_memory_limit_bytes beside what the
 * engine holds now. Each run is its own process: the engine is configured once per process.
 */
const ADMIN = 'engine-memory-admin-key-0123456789';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function engineMemory(env: Record<string, string>): Promise<{ used: number; limit: number }> {
  const dataDir = preparedDataDir();
  dirs.push(dataDir);
  const tally = await startTally(['start'], { TALLY_DATA_DIR: dataDir, TALLY_ADMIN_KEY: ADMIN, ...env });
  try {
    const text = await (await fetch(`${tally.url}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name} ([\\d.e+-]+)$`, 'm').exec(text)?.[1]);
    return { used: value('tally_clickhouse_memory_bytes'), limit: value('tally_clickhouse_memory_limit_bytes') };
  } finally {
    tally.child.kill('SIGTERM');
    await tally.exited;
  }
}

describe('the embedded ClickHouse memory bound', () => {
  it('is the size TALLY_CHDB_MAX_MEMORY gives', async () => {
    const m = await engineMemory({ TALLY_CHDB_MAX_MEMORY: '768MiB' });
    expect(m.limit).toBe(768 * 1024 * 1024);
    expect(m.used).toBeGreaterThan(0);
    expect(m.used).toBeLessThan(m.limit);
  });

  it('is by default half the memory the process may use', async () => {
    const { limit } = await engineMemory({});
    // The engine reads the machine's memory itself (or the cgroup's limit, when lower).
    expect(limit).toBeGreaterThan(0);
    expect(limit).toBeLessThanOrEqual(os.totalmem() / 2 + 1);
    expect(limit).toBeGreaterThan((Math.min(os.totalmem(), process.constrainedMemory() || Infinity) / 2) * 0.9);
  });
});
