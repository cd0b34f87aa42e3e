import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../../core/paths.js';

/**
 * The fuzz test's server runs in a child process: a request that kills Node (an exception
 * thrown inside a uWS handler aborts the process) must fail one property with the request that
 * did it, not take the test runner down with it. The child runs the TypeScript sources (not
 * dist/, which may be stale) through a small module hook that transpiles each file with the
 * project's own TypeScript and maps the `.js` import specifiers to the `.ts` files beside them.
 */
export interface FuzzServer {
  readonly url: string;
  readonly port: number;
  readonly adminKey: string;
  /** False once the child process has exited. */
  alive(): boolean;
  /** How the child ended, once it has. */
  exit(): string | undefined;
  /** The child's output lines (structured logs) that mention `needle`, for a failure report. */
  logLines(needle: string, max?: number): string[];
  /** The last lines the child printed. */
  tail(lines?: number): string;
  stop(): Promise<void>;
}

const READY = 'FUZZ_SERVER_READY ';
const KEEP_LINES = 4000;

function hooksSource(): string {
  const typescript = pathToFileURL(createRequire(import.meta.url).resolve('typescript')).href;
  return `
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from ${JSON.stringify(typescript)};
export async function resolve(specifier, context, next) {
  const parent = context.parentURL;
  if (parent !== undefined && parent.startsWith('file:') && parent.endsWith('.ts') && specifier.startsWith('.') && specifier.endsWith('.js')) {
    const js = new URL(specifier, parent);
    const tsUrl = new URL(js.href.slice(0, -3) + '.ts');
    if (!existsSync(fileURLToPath(js)) && existsSync(fileURLToPath(tsUrl))) return { url: tsUrl.href, shortCircuit: true };
  }
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (url.startsWith('file:') && url.endsWith('.ts')) {
    const file = fileURLToPath(url);
    const out = ts.transpileModule(await readFile(file, 'utf8'), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true, inlineSourceMap: true },
    });
    return { format: 'module', source: out.outputText, shortCircuit: true };
  }
  return next(url, context);
}`;
}

/** Starts the child and waits until it listens. `env` is the server's configuration (as for `startTestApi`). */
export async function startFuzzServer(env: Record<string, string>, timeoutMs = 90_000): Promise<FuzzServer> {
  const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooksSource())}`)});`;
  const main = path.join(packageRoot(), 'test', 'support', 'fuzz-server-main.ts');
  const child: ChildProcess = spawn(process.execPath, ['--enable-source-maps', '--import', `data:text/javascript,${encodeURIComponent(register)}`, main], {
    cwd: packageRoot(),
    env: { ...process.env, FUZZ_SERVER_ENV: JSON.stringify(env) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  let exitInfo: string | undefined;
  let onReady: ((info: { url: string; adminKey: string }) => void) | undefined;
  let onExit: ((why: string) => void) | undefined;
  const take = (chunk: Buffer) => {
    const text = partial + chunk.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      if (line.startsWith(READY)) onReady?.(JSON.parse(line.slice(READY.length)) as { url: string; adminKey: string });
      lines.push(line);
      if (lines.length > KEEP_LINES) lines.splice(0, lines.length - KEEP_LINES);
    }
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  // The pipe to a dead child fails with EPIPE; that is reported through the exit, not here.
  child.stdin!.on('error', () => undefined);
  child.on('exit', (code, signal) => {
    exitInfo = signal === null ? `exited with code ${String(code)}` : `killed by ${signal}`;
    onExit?.(exitInfo);
  });

  const info = await new Promise<{ url: string; adminKey: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the fuzz server did not start in ${timeoutMs} ms:\n${lines.slice(-40).join('\n')}`)), timeoutMs);
    onReady = (i) => {
      clearTimeout(timer);
      resolve(i);
    };
    onExit = (why) => {
      clearTimeout(timer);
      reject(new Error(`the fuzz server ${why} before listening:\n${lines.slice(-40).join('\n')}`));
    };
  });
  const exited = new Promise<void>((resolve) => {
    if (exitInfo !== undefined) resolve();
    onExit = () => resolve();
  });

  return {
    url: info.url,
    port: Number(new URL(info.url).port),
    adminKey: info.adminKey,
    alive: () => exitInfo === undefined,
    exit: () => exitInfo,
    logLines: (needle, max = 5) => lines.filter((l) => l.includes(needle)).slice(-max),
    tail: (n = 30) => [...lines, partial].slice(-n).join('\n'),
    stop: async () => {
      if (exitInfo !== undefined) return;
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
