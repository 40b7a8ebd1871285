// Child processes for the bench: started pinned to a CPU (taskset), measured from /proc (CPU ticks of the
// process and its descendants, RSS), and always stopped: every child is registered and killed on exit.

import { request as httpsRequest } from 'node:https';
import { spawn, execFileSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readFileSync, readdirSync, createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { once } from 'node:events';

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly proc: ChildProcess;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<Child>();

/** Kill whatever is still running (Ctrl-C, a failed scenario): no stray nginx/haproxy/wrk after the bench. */
export function killAll(): void {
  for (const c of live) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

export interface SpawnOptions {
  /** CPU list for taskset ("0", "1", "0,1"); undefined: not pinned. */
  readonly cpu: string | undefined;
  /** File to write the child's stdout+stderr to; undefined: discarded. */
  readonly logFile?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Adds an IPC channel (node children). */
  readonly ipc?: boolean;
}

export function start(name: string, cmd: string, args: readonly string[], opts: SpawnOptions): Child {
  const [file, argv] = opts.cpu === undefined ? [cmd, [...args]] : ['taskset', ['-c', opts.cpu, cmd, ...args]];
  const stdio: StdioOptions = ['ignore', opts.logFile ? 'pipe' : 'ignore', opts.logFile ? 'pipe' : 'ignore'];
  if (opts.ipc) stdio.push('ipc');
  // taskset execs the command, so the pid we get is the command's own.
  const proc = spawn(file, argv, { stdio, env: { ...process.env, ...opts.env } });
  if (opts.logFile) {
    const log = createWriteStream(opts.logFile);
    proc.stdout?.pipe(log);
    proc.stderr?.pipe(log);
  }
  if (proc.pid === undefined) throw new Error(`could not start ${name} (${cmd})`);
  const exited = proc.exitCode !== null ? Promise.resolve() : once(proc, 'exit').then(() => undefined);
  const child: Child = {
    name,
    pid: proc.pid,
    proc,
    async stop(graceMs = 5000) {
      live.delete(child);
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  live.add(child);
  return child;
}

/** Fields after the `(comm)` of /proc/PID/stat (comm may contain spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function descendants(pid: number): number[] {
  const parent = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    const p = Number(d);
    if (!Number.isInteger(p)) continue;
    const f = statFields(p);
    if (!f) continue;
    const pp = Number(f[1]);
    const list = parent.get(pp) ?? [];
    list.push(p);
    parent.set(pp, list);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.pop()!;
    out.push(p);
    queue.push(...(parent.get(p) ?? []));
  }
  return out;
}

/** utime+stime (all threads) of `pid` and its live descendants, in microseconds. */
export function cpuMicros(pid: number): number {
  let ticks = 0;
  for (const p of descendants(pid)) {
    const f = statFields(p);
    // Fields 14 and 15 of stat(5) are utime and stime; index 0 here is field 3 (state).
    if (f) ticks += Number(f[11]) + Number(f[12]);
  }
  return (ticks * 1e6) / CLK_TCK;
}

/** Resident set size of one process, bytes (VmRSS). */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** A port that was free a moment ago on `host` (the OS picks it; we release it for the child). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const s = createServer();
  s.listen(0, host);
  await once(s, 'listening');
  const addr = s.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Polls `check` every 50 ms until it returns a value other than undefined; throws after `timeoutMs` or when `check` throws. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** GET `url` with a short timeout; status and body, or undefined when nothing answers. */
export async function httpGet(url: string, timeoutMs = 2000): Promise<{ status: number; body: string } | undefined> {
  if (url.startsWith('https:')) return httpsGet(url, timeoutMs);
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined;
  }
}

export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return '?';
  }
}

/** httpGet for the bench's own HTTPS targets: their test certificates are not verified (loopback only). */
function httpsGet(url: string, timeoutMs: number): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = httpsRequest(url, { rejectUnauthorized: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}
