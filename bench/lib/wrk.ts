// Runs wrk with bench/post.lua (remote-write-shaped POSTs) and parses the JSON line its done() prints.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { WRK_SCRIPT } from './paths.js';

export interface WrkResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Socket errors (connect, read, write, timeout) plus responses that were not 2xx/3xx. */
  readonly errors: number;
  readonly non2xx: number;
}

export interface WrkOptions {
  readonly url: string;
  readonly connections: number;
  /** wrk -d: the run stops by itself after this long. */
  readonly seconds: number;
  readonly bodyFile: string;
  readonly cpu: string | undefined;
  /** Stop early (SIGINT: wrk still prints its summary) when this signal fires. */
  readonly stop?: AbortSignal;
  /** Authorization header for every request (bench/post.lua reads BENCH_AUTHORIZATION). */
  readonly authorization?: string;
}

interface WrkJson {
  requests: number;
  duration_us: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  p50_us: number;
  p90_us: number;
  p99_us: number;
  max_us: number;
}

export async function runWrk(o: WrkOptions): Promise<WrkResult> {
  const args = ['-t1', `-c${o.connections}`, `-d${o.seconds}s`, '--timeout', '10s', '-s', WRK_SCRIPT, o.url];
  const [file, argv] = o.cpu === undefined ? ['wrk', args] : ['taskset', ['-c', o.cpu, 'wrk', ...args]];
  const proc = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BENCH_BODY: o.bodyFile, BENCH_AUTHORIZATION: o.authorization ?? '' } });
  let out = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const onStop = (): void => void proc.kill('SIGINT');
  o.stop?.addEventListener('abort', onStop);
  // Bound: wrk's own -d plus its 10 s request timeout; a hung wrk is killed.
  const killer = setTimeout(() => proc.kill('SIGKILL'), (o.seconds + 20) * 1000);
  await once(proc, 'close');
  clearTimeout(killer);
  o.stop?.removeEventListener('abort', onStop);
  const line = out.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (!line) throw new Error(`wrk printed no result (exit ${proc.exitCode}):\n${out}`);
  const j = JSON.parse(line.slice('BENCH_JSON '.length)) as WrkJson;
  const seconds = j.duration_us / 1e6;
  const e = j.errors;
  return {
    requests: j.requests,
    seconds,
    rps: j.requests / seconds,
    p50Ms: j.p50_us / 1000,
    p90Ms: j.p90_us / 1000,
    p99Ms: j.p99_us / 1000,
    maxMs: j.max_us / 1000,
    errors: e.connect + e.read + e.write + e.timeout + e.status,
    non2xx: e.status,
  };
}
