// The built binary as a child process for memory measurements: its own heap, its own /proc entry.

import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startCli } from './cli.js';

export interface GatewayProcess {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly url: string;
  /** The first and the last few KiB of stdout+stderr. */
  output(): string;
  stop(): Promise<number | null>;
}

/** The binary with only the start and the tail of its log kept; stop() kills it (SIGKILL). */
export async function startGatewayProcess(args: readonly string[]): Promise<GatewayProcess> {
  const child = await startCli(args, {}, { keepOutput: 16 * 1024 });
  return { proc: child.proc, pid: child.proc.pid!, url: child.url, output: child.output, stop: () => child.stop('SIGKILL') };
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
