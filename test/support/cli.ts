// Runs the built binary (dist/, made by `npm run build`, which `npm test` runs first).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';

export const CLI = fileURLToPath(new URL('../../dist/app/cli.js', import.meta.url));

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface Child {
  readonly proc: ChildProcess;
  readonly port: number;
  readonly url: string;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Keep only the first and the last this many characters of the output (`keepOutput`). */
export interface CliOptions {
  /**
   * A gateway whose backend is down logs a line per failed request (rate-limited, but a load test
   * runs long): keep the start and the tail only.
   */
  readonly keepOutput?: number;
  /** Working directory of the process (relative paths in config resolve from it). */
  readonly cwd?: string;
  /** How long to wait for /ready (default 15 s; several worker processes take longer on a busy machine). */
  readonly readyTimeoutMs?: number;
}

/** Starts the binary on port 0, reads the bound port from its start-up log line, waits for /ready. */
export async function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, opts: CliOptions = {}): Promise<Child> {
  const proc = spawn(process.execPath, [CLI, '-server.http-listen-address=127.0.0.1', '-server.http-listen-port=0', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
  });
  let out = '';
  let tail = '';
  const keep = opts.keepOutput ?? Infinity;
  const onData = (d: Buffer): void => {
    if (out.length < keep) out += d.toString();
    else tail = (tail + d.toString()).slice(-keep);
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  let url = '';
  let port = 0;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`metrics-gateway exited with ${proc.exitCode}: ${out}`);
    if (port === 0) {
      const m = /msg="metrics-gateway started".* http=(?:https?:\/\/)?(\S*):(\d+)/.exec(out);
      if (m) {
        port = Number(m[2]);
        // A process told to listen on another loopback address (a replica on 127.0.0.12) is reached there.
        const host = /^127\.\d+\.\d+\.\d+$/.test(m[1]!) ? m[1]! : '127.0.0.1';
        url = `http://${host}:${port}`;
      }
    }
    if (port !== 0) {
      try {
        const r = await request(`${url}/ready`);
        await r.body.dump();
        if (r.statusCode === 200) break;
      } catch {
        // not answering yet
      }
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`metrics-gateway did not become ready: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    proc,
    port,
    url,
    output: () => (tail === '' ? out : `${out}\n[...]\n${tail}`),
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null) proc.kill(signal);
      return exited;
    },
  };
}
