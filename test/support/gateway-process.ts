// The built binary as a child process for memory measurements: its own heap, its own /proc entry.
// Unlike cli.ts's startCli it keeps only the start and the tail of the output, since a backend that is
// down makes the gateway log one line per request and a load test sends 100,000 of them.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { CLI } from './cli.js';

export interface GatewayProcess {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly url: string;
  /** The first and the last few KiB of stdout+stderr. */
  output(): string;
  stop(): Promise<number | null>;
}

const KEEP = 16 * 1024;

export async function startGatewayProcess(args: readonly string[]): Promise<GatewayProcess> {
  const proc = spawn(process.execPath, [CLI, '-server.http-listen-address=127.0.0.1', '-server.http-listen-port=0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let head = '';
  let tail = '';
  const onData = (d: Buffer): void => {
    if (head.length < KEEP) head += d.toString();
    else tail = (tail + d.toString()).slice(-KEEP);
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const output = (): string => (tail === '' ? head : `${head}\n[...]\n${tail}`);
  const deadline = Date.now() + 15_000;
  let url = '';
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`metrics-gateway exited with ${proc.exitCode}: ${output()}`);
    const m = /msg="metrics-gateway started".* http=[^ ]*:(\d+)/.exec(head);
    if (m) {
      url = `http://127.0.0.1:${m[1]}`;
      const ok = await request(`${url}/ready`).then(
        async (r) => {
          await r.body.dump();
          return r.statusCode === 200;
        },
        () => false,
      );
      if (ok) break;
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`metrics-gateway did not become ready: ${output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    proc,
    pid: proc.pid!,
    url,
    output,
    stop: async () => {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      return exited;
    },
  };
}

export interface ProcMemory {
  /** Resident set size now. */
  readonly rss: number;
  /** Peak resident set size since the process started (VmHWM). */
  readonly hwm: number;
}

/** RSS and its high-water mark from /proc/PID/status, in bytes. */
export function procMemory(pid: number): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

export const MiB = 1024 * 1024;
export const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;
