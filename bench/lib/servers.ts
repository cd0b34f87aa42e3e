import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { packageRoot } from '../../core/paths.js';

/** A server under test, in its own process so its memory is its own. */
export interface ServerProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  /** SIGTERM, then wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export function script(relative: string): string {
  return path.join(packageRoot(), relative);
}

export async function spawnServer(file: string, args: string[], env: Record<string, string | undefined>): Promise<ServerProcess> {
  const child = spawn(process.execPath, [file, ...args], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} did not start:\n${out}`)), 120_000);
    child.stdout.on('data', () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!.replace('0.0.0.0', '127.0.0.1'));
      }
    });
    void exited.then((code) => reject(new Error(`${file} exited (${code}) before listening:\n${out}`)));
  });
  return {
    url,
    pid: child.pid!,
    child,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Samples a process's resident memory; `stop` returns the largest sample in MiB. */
export function sampleRss(pid: number, everyMs = 200): { stop(): number; maxAnon(): number } {
  let max = 0;
  // The anonymous part alone (heap, the engines' allocations), without the pages mapped from
  // the binaries' files, which the kernel can drop and read again.
  let maxAnon = 0;
  const read = () => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const m = /VmRSS:\s+(\d+) kB/.exec(status);
      if (m) max = Math.max(max, Number(m[1]) / 1024);
      const a = /RssAnon:\s+(\d+) kB/.exec(status);
      if (a) maxAnon = Math.max(maxAnon, Number(a[1]) / 1024);
    } catch {
      // process gone
    }
  };
  read();
  const timer = setInterval(read, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      read();
      return Number(max.toFixed(1));
    },
    maxAnon: () => Number(maxAnon.toFixed(1)),
  };
}

/** Clock ticks per second of /proc's CPU times (100 on every Linux this runs on; asked, not assumed). */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU time (user + system) of each thread of `pid`, in clock ticks, by thread id. */
function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out; // process gone
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, Number(f[11]) + Number(f[12]));
    } catch {
      // thread ended
    }
  }
  return out;
}

export interface CpuShares {
  /** Every thread of the server process, in % of one core (200 = both cores of this machine). */
  server: number;
  /** The server's main thread (its event loop), in % of one core. */
  main: number;
  /** This process (the load generator), in % of one core. */
  client: number;
}

/**
 * Where the CPU went while a load ran: the server's threads, its main thread alone, and the
 * load generator in this process. On a machine whose cores the client shares with the
 * server, these say whether a figure is bound by the server's event loop, by all cores, or by
 * the client.
 */
export function sampleCpu(pid: number): { stop(): CpuShares } {
  const before = threadTicks(pid);
  const client0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  return {
    stop: () => {
      const after = threadTicks(pid);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      let server = 0;
      for (const [tid, ticks] of after) server += ticks - (before.get(tid) ?? 0);
      const main = (after.get(String(pid)) ?? 0) - (before.get(String(pid)) ?? 0);
      const c = process.cpuUsage(client0);
      const pct = (ticks: number) => Math.round((100 * ticks) / CLK_TCK / seconds);
      return { server: pct(server), main: pct(main), client: Math.round((c.user + c.system) / 1e4 / seconds) };
    },
  };
}

/** A benchmark row's CPU columns for a load that acknowledged `eventsPerSec` with these shares. */
export function cpuColumns(eventsPerSec: number, c: CpuShares): Record<string, number | string> {
  return {
    'server CPU %': c.server,
    'main thread %': c.main,
    'client CPU %': c.client,
    'server CPU µs/event': eventsPerSec > 0 ? Number(((c.server * 1e4) / eventsPerSec).toFixed(2)) : '',
  };
}

/**
 * The rate the same CPU per event (server and client) would give with every cycle of every core
 * spent on the load: the most any threading or overlapping of the same work could reach here.
 */
export function atAllCores(eventsPerSec: number, c: CpuShares): number {
  const used = c.server + c.client;
  return used > 0 ? (eventsPerSec * availableParallelism() * 100) / used : 0;
}

export interface LoadResult {
  requestsPerSec: number;
  eventsPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** Ids of the events whose request was answered 202. */
  acked: string[];
}

/**
 * autocannon against `url`. Each request's body comes from `makeBody`, which also names the
 * event ids it carries, so the run knows exactly which events were acknowledged.
 */
export async function runLoad(opts: {
  url: string;
  connections: number;
  durationSec: number;
  headers: Record<string, string>;
  makeBody: () => { body: string | Buffer; ids: string[] };
}): Promise<LoadResult> {
  const acked: string[] = [];
  const result = await autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.durationSec,
    method: 'POST',
    headers: opts.headers,
    requests: [
      {
        setupRequest: (req: autocannon.Request, context: object) => {
          const { body, ids } = opts.makeBody();
          (context as { ids: string[] }).ids = ids;
          return { ...req, body };
        },
        onResponse: (status: number, _body: string, context: object) => {
          if (status === 202) for (const id of (context as { ids: string[] }).ids) acked.push(id);
        },
      },
    ],
  });
  const seconds = opts.durationSec;
  return {
    requestsPerSec: Number(result.requests.average.toFixed(0)),
    eventsPerSec: Number((acked.length / seconds).toFixed(0)),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    acked,
  };
}
