import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
export function sampleRss(pid: number, everyMs = 200): { stop(): number } {
  let max = 0;
  const read = () => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) max = Math.max(max, Number(m[1]) / 1024);
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
  };
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
