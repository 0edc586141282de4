/**
 * Runs the real server as a child process for crash, multi-node and lifecycle tests: `src/cli.ts serve`
 * (default) or `npm start`, on a port of the caller's choice or a free one; waits for GET /health by polling.
 * Also the process-table and port probes those tests assert with (Linux /proc).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { here } from '../helpers.ts';

export const repoRoot = join(here, '..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** True when nothing listens on host:port (we could bind it). */
export async function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  port: number;
  base: string;
  proc: ChildProcess;
  /** stdout and stderr so far, interleaved */
  output(): string;
  /** resolves when the process has exited and its output is complete */
  exited: Promise<Exit>;
  /** sends the signal (if still running) and resolves with the exit code (null when killed by a signal) */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface SpawnOptions {
  /** environment on top of the test's own; PORT, HOST=127.0.0.1, LOG_LEVEL=warn and a 200 ms job poll are preset */
  env?: Record<string, string>;
  /** default: a free port */
  port?: number;
  /** `cli` runs `node --import tsx src/cli.ts serve`; `npm` runs `npm start` in the repository */
  via?: 'cli' | 'npm';
  /** working directory (default: the repository root, where the shipped processes/ folder is) */
  cwd?: string;
}

/** Starts the server without waiting for it. */
export async function spawnServer(opts: SpawnOptions = {}): Promise<ServerProcess> {
  const port = opts.port ?? (await freePort());
  const env = { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', INSUREFLOW_JOB_POLL_MS: '200', ...opts.env };
  // tsx by absolute URL: `--import tsx` would resolve against the working directory
  const tsx = import.meta.resolve('tsx');
  const proc =
    opts.via === 'npm'
      ? spawn('npm', ['start'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, ['--import', tsx, join(repoRoot, 'src', 'cli.ts'), 'serve'], { cwd: opts.cwd ?? repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  // 'close': the process has exited and its output has been read to the end (a grandchild still holding the
  // pipes, such as a server orphaned under npm, delays it)
  const exited = new Promise<Exit>((resolve) => proc.once('close', (code, signal) => resolve({ code, signal })));
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    proc,
    output: () => out,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return (await exited).code;
    },
  };
}

/** Polls GET /health every 100 ms until it answers 200; throws (and SIGKILLs) if the process exits or the time runs out. */
export async function waitHealthy(server: ServerProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (server.proc.exitCode !== null || server.proc.signalCode !== null) {
      const exit = await server.exited;
      throw new Error(`server exited with ${exit.code ?? exit.signal}: ${server.output()}`);
    }
    try {
      const res = await fetch(`${server.base}/health`);
      if (res.ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      await server.kill('SIGKILL');
      throw new Error(`server did not start in ${timeoutMs} ms: ${server.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `src/cli.ts serve` on a free port, healthy. */
export async function startServer(env: Record<string, string>, timeoutMs = 20_000): Promise<ServerProcess> {
  const server = await spawnServer({ env });
  await waitHealthy(server, timeoutMs);
  return server;
}

/** Runs a server that is expected to fail at start-up; SIGKILLs it if it is still running after timeoutMs. */
export async function runToExit(opts: SpawnOptions, timeoutMs = 20_000): Promise<Exit & { output: string }> {
  const server = await spawnServer(opts);
  const timer = setTimeout(() => server.proc.kill('SIGKILL'), timeoutMs);
  const exit = await server.exited;
  clearTimeout(timer);
  return { ...exit, output: server.output() };
}

/** The living (not zombie) descendants of pid, from /proc; [] where there is no /proc. */
export function descendants(pid: number): number[] {
  if (!existsSync('/proc/self/stat')) return [];
  const parentOf = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat && stat.state !== 'Z') parentOf.set(Number(name), stat.ppid);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, parent] of parentOf) if (parent === p) (out.push(child), walk(child));
  };
  walk(pid);
  return out;
}

/** True while pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== null && stat.state !== 'Z';
}

function readStat(pid: number): { state: string; ppid: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may contain spaces and parentheses, so split after the last ')'
    const [state, ppid] = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state, ppid: Number(ppid) };
  } catch {
    return null;
  }
}
