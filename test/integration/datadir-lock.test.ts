import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataDirLockedError, lockDataDir } from '../../core/datadir.js';
import { packageRoot } from '../../core/paths.js';

/**
 * The data dir's lock between processes (core/datadir.ts): one holder at a time, also when
 * processes start together on a lock left by a process that died; a leftover lock whose pid now
 * belongs to an unrelated process is taken over.
 */
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'tally-lock-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A process that waits until `at` (epoch ms), tries the lock, holds it 300 ms and says which it got. */
function contender(dir: string, at: number): Promise<string> {
  const code = `const { lockDataDir } = await import(${JSON.stringify(path.join(packageRoot(), 'dist/core/datadir.js'))});
    while (Date.now() < ${at}) {}
    try { const l = lockDataDir(${JSON.stringify(dir)}); console.log('got'); const t = Date.now(); while (Date.now() - t < 300) {} l.release(); }
    catch (e) { console.log(e.name); }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on('exit', () => resolve(out.trim())));
}

/** A pid no process has now (a child that has exited). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => child.on('exit', r));
  return child.pid!;
}

describe('the data dir lock between processes', () => {
  it('two processes starting together on a leftover lock: one holds it, the other is told it is in use', async () => {
    for (let round = 0; round < 8; round++) {
      const dir = tmp();
      writeFileSync(path.join(dir, 'tally.pid'), String(await deadPid()));
      const at = Date.now() + 400;
      const said = await Promise.all([contender(dir, at), contender(dir, at), contender(dir, at)]);
      expect(said.filter((s) => s === 'got'), `round ${round}: ${said.join(', ')}`).toHaveLength(1);
      expect(said.filter((s) => s === 'DataDirLockedError')).toHaveLength(2);
      // Released: nothing is left but the data dir's own files.
      expect(readdirSync(dir)).toEqual([]);
    }
  }, 60_000);

  it('a live holder keeps it; once released it can be taken', () => {
    const dir = tmp();
    const held = lockDataDir(dir);
    expect(readFileSync(path.join(dir, 'tally.pid'), 'utf8')).toMatch(new RegExp(`^${process.pid}( \\d+)?$`));
    held.release();
    expect(existsSync(path.join(dir, 'tally.pid'))).toBe(false);
    lockDataDir(dir).release();
  });

  it("a leftover lock naming a pid an unrelated process has now is taken over; the live holder's is not", async () => {
    const dir = tmp();
    const file = path.join(dir, 'tally.pid');
    // pid 1 is alive, but it did not start at tick 0.
    writeFileSync(file, '1 0');
    lockDataDir(dir).release();
    // A holder that is alive with that start time (the init process, as /proc says).
    const stat = readFileSync('/proc/1/stat', 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    writeFileSync(file, `1 ${start}`);
    expect(() => lockDataDir(dir)).toThrow(DataDirLockedError);
    // A lock in the old form (a pid alone) of a live process is in use too.
    writeFileSync(file, '1');
    expect(() => lockDataDir(dir)).toThrow(DataDirLockedError);
    writeFileSync(file, String(await deadPid()));
    lockDataDir(dir).release();
  });
});
