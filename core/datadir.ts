import { closeSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync, constants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

/**
 * The embedded stores (chDB, PGlite) belong to one process, so a process that opens them holds
 * a lock file in the data dir, `tally.pid`: the holder's pid and, where /proc tells it, the
 * time its process started (so a later process that happens to get the same pid is not taken
 * for the holder). The file is made whole, then linked into place (a link fails when the name
 * exists), so it is never seen empty. A lock whose process is gone is taken over under a second
 * lock of its own, `tally.pid.takeover`: two processes finding the same leftover lock cannot both
 * take it (one takes it, the other then finds a live holder).
 */
export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(`data dir ${dataDir} is in use by process ${pid}; stop it first or set TALLY_DATA_DIR to another folder`);
    this.name = 'DataDirLockedError';
  }
}

export interface DataDirLock {
  release(): void;
}

/** A takeover older than this was left by a process that died taking over: it is removed. */
const TAKEOVER_STALE_MS = 10_000;

export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'tally.pid');
  const mine = holderText(process.pid);
  // The lock's content, whole, under a name of this process's own; linked into place below.
  const draft = path.join(dataDir, `tally.pid.${process.pid}.${randomBytes(6).toString('hex')}`);
  const fd = openSync(draft, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o644);
  writeSync(fd, mine);
  closeSync(fd);
  try {
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      if (tryLink(draft, file)) {
        return {
          release: () => {
            if (read(file) === mine) rmSync(file, { force: true });
          },
        };
      }
      const held = read(file);
      if (held === undefined) continue; // released meanwhile: try again
      const holder = parseHolder(held);
      if (holder !== undefined && holder.pid !== process.pid && isAlive(holder)) throw new DataDirLockedError(dataDir, holder.pid);
      takeOver(file, held, draft);
    }
    throw new Error(`could not lock data dir ${dataDir}: its lock changed hands for 5 s`);
  } finally {
    rmSync(draft, { force: true });
  }
}

/** Removes the leftover lock `held` (its process is gone), unless another process has already replaced it. */
function takeOver(file: string, held: string, draft: string): void {
  const takeover = `${file}.takeover`;
  if (!tryLink(draft, takeover)) {
    // Another process is taking over; one left by a process that died doing so goes after a while.
    try {
      if (Date.now() - statSync(takeover).mtimeMs > TAKEOVER_STALE_MS) rmSync(takeover, { force: true });
    } catch {
      // gone meanwhile
    }
    sleep(20);
    return;
  }
  try {
    if (read(file) === held) rmSync(file, { force: true });
  } finally {
    rmSync(takeover, { force: true });
  }
}

function tryLink(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** `pid`, or `pid start` where /proc gives the process's start time (in clock ticks since boot). */
function holderText(pid: number): string {
  const start = startTime(pid);
  return start === undefined ? String(pid) : `${pid} ${start}`;
}

function parseHolder(text: string): { pid: number; start: string | undefined } | undefined {
  const m = /^(\d+)(?: (\d+))?\s*$/.exec(text);
  return m === null ? undefined : { pid: Number(m[1]), start: m[2] };
}

function isAlive(holder: { pid: number; start: string | undefined }): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // A live process under that pid: the holder only if it started when the holder did.
  if (holder.start === undefined) return true;
  const now = startTime(holder.pid);
  return now === undefined || now === holder.start;
}

/** Field 22 of /proc/<pid>/stat (after the command name, which may hold spaces and parentheses). */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
