// Runs a real Prometheus server (the binary, Debian package `prometheus`) for end-to-end tests: its own
// TSDB in a temp dir, its web server on a free 127.0.0.1 port, its log captured, its config reloadable
// (SIGHUP), and its own /metrics parsed so a test can read what Prometheus itself says it sent.

import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { request } from 'undici';
import { eventually } from './poll.js';

/** The prometheus binary: $PROMETHEUS_BIN, else `prometheus` on $PATH; undefined when there is none. */
export function findPrometheus(): string | undefined {
  const explicit = process.env['PROMETHEUS_BIN'];
  const candidates = explicit ? [explicit] : (process.env['PATH'] ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'prometheus'));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Samples of a text-format exposition, by metric name: one entry per label set. */
export type Exposition = ReadonlyMap<string, ReadonlyArray<{ readonly labels: string; readonly value: number }>>;

/** Parses the Prometheus text format (0.0.4) well enough for counters and gauges. */
export function parseExposition(text: string): Exposition {
  const out = new Map<string, Array<{ labels: string; value: number }>>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    let list = out.get(m[1]!);
    if (list === undefined) out.set(m[1]!, (list = []));
    list.push({ labels: m[2] ?? '', value });
  }
  return out;
}

/** Sum of every sample of `name` (whose label sets contain `labelFilter`, if given); undefined if absent. */
export function metricSum(exp: Exposition, name: string, labelFilter = ''): number | undefined {
  const list = exp.get(name)?.filter((s) => s.labels.includes(labelFilter));
  if (list === undefined || list.length === 0) return undefined;
  return list.reduce((a, s) => a + s.value, 0);
}

/** What a remote-write queue reports about its samples (all queues summed). */
export interface RemoteWriteCounters {
  /** Samples that reached the receiver: the last attempt of each batch succeeded. */
  readonly sent: number;
  /** Sample sends repeated after a recoverable error (5xx, 429 when enabled, connection errors). */
  readonly retried: number;
  /** Samples given up on: a non-recoverable error (4xx). */
  readonly failed: number;
  /** Samples read from the WAL but never queued (relabelling, unknown series reference). */
  readonly dropped: number;
  readonly pending: number;
  /** Samples appended locally and handed to remote write; undefined where not reported. */
  readonly in: number | undefined;
  readonly metadataFailed: number;
}

/**
 * Remote-write counters under either naming. Since v2.25 (Debian 12 ships 2.42):
 * `prometheus_remote_storage_samples_{total,retried_total,failed_total,dropped_total,pending}`, where
 * samples_total counts every attempt, so sent = samples_total - samples_retried_total. Before: the
 * queue-labelled `..._{succeeded,retried,failed,dropped}_samples_total` and `..._pending_samples`.
 */
export function remoteWriteCounters(m: Exposition): RemoteWriteCounters {
  const need = (...names: string[]): number => {
    for (const n of names) {
      const v = metricSum(m, n);
      if (v !== undefined) return v;
    }
    throw new Error(`Prometheus reports none of ${names.join(', ')}`);
  };
  const p = 'prometheus_remote_storage_';
  const retried = need(`${p}samples_retried_total`, `${p}retried_samples_total`);
  const attempted = metricSum(m, `${p}samples_total`);
  return {
    sent: attempted !== undefined ? attempted - retried : need(`${p}succeeded_samples_total`),
    retried,
    failed: need(`${p}samples_failed_total`, `${p}failed_samples_total`),
    dropped: need(`${p}samples_dropped_total`, `${p}dropped_samples_total`),
    pending: need(`${p}samples_pending`, `${p}pending_samples`),
    in: metricSum(m, `${p}samples_in_total`),
    metadataFailed: metricSum(m, `${p}metadata_failed_total`) ?? 0,
  };
}

export interface RunningPrometheus {
  readonly url: string;
  readonly proc: ChildProcess;
  /** Everything Prometheus logged (logfmt). */
  logs(): string;
  /** Its own /metrics, parsed. */
  metrics(): Promise<Exposition>;
  /** Rewrites the config file and reloads it (SIGHUP); resolves once Prometheus reports the reload succeeded. */
  reload(yaml: string, timeoutMs?: number): Promise<void>;
  /** SIGTERM (Prometheus flushes its remote-write queues up to its flush deadline), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** A port that was free a moment ago on 127.0.0.1 (Prometheus cannot report a port 0 it bound). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, host, () => resolve());
  });
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export interface PrometheusOptions {
  readonly binary: string;
  readonly config: string;
  /** Extra command-line flags. */
  readonly args?: readonly string[];
  readonly startTimeoutMs?: number;
}

export async function startPrometheus(opts: PrometheusOptions): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'mgw-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, opts.config);
  // The port is chosen before Prometheus binds it; another process may take it in between: retry.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await launch(opts, dir, configFile, port);
    } catch (err) {
      lastError = err;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

async function launch(opts: PrometheusOptions, dir: string, configFile: string, port: number): Promise<RunningPrometheus> {
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(
    opts.binary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, `data-${port}`)}`,
      `--web.listen-address=127.0.0.1:${port}`,
      ...(opts.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.once('error', (err) => (out += `spawn error: ${err.message}\n`));

  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`prometheus exited (${proc.exitCode ?? proc.signalCode}):\n${out}`);
    try {
      const r = await request(`${url}/-/ready`);
      await r.body.dump();
      if (r.statusCode === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      await exited;
      throw new Error(`prometheus did not become ready within ${opts.startTimeoutMs ?? 20_000} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const metrics = async (): Promise<Exposition> => {
    const r = await request(`${url}/metrics`);
    const text = await r.body.text();
    if (r.statusCode !== 200) throw new Error(`GET ${url}/metrics: ${r.statusCode}`);
    return parseExposition(text);
  };

  return {
    url,
    proc,
    logs: () => out,
    metrics,
    async reload(yaml, timeoutMs = 60_000) {
      // Prometheus logs this line after every successful (re)load; the success-timestamp metric has
      // one-second resolution and cannot tell two reloads in the same second apart.
      const loads = (): number => out.split('msg="Completed loading of configuration file"').length - 1;
      const before = loads();
      writeFileSync(configFile, yaml);
      proc.kill('SIGHUP');
      const until = Date.now() + timeoutMs;
      for (;;) {
        if (loads() > before) return;
        if (metricSum(await metrics(), 'prometheus_config_last_reload_successful') === 0) {
          throw new Error(`prometheus rejected the new config:\n${out.slice(-2000)}`);
        }
        if (Date.now() > until) throw new Error(`prometheus did not reload its config within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(graceMs = 10_000) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A remote_write queue_config for tests (under a `remote_write` entry): a fixed shard count
 * (resharding cancels in-flight sends after the flush deadline, blurring what a test measures) and
 * small batches with a short deadline, so data flows every few hundred milliseconds.
 */
export function testQueueConfig(shards: number): string[] {
  return [
    '    queue_config:',
    '      capacity: 2500',
    `      min_shards: ${shards}`,
    `      max_shards: ${shards}`,
    '      max_samples_per_send: 500',
    '      batch_send_deadline: 200ms',
    '      min_backoff: 50ms',
    '      max_backoff: 1s',
  ];
}

/**
 * Waits for Prometheus to flush its remote-write queue (after scraping stopped): quiet, that is
 * nothing new taken in or attempted for 3 s (the end-of-run stale markers come within two scrape
 * intervals), and nothing pending. Returns the counters then.
 */
export async function drainedRemoteWrite(prom: RunningPrometheus, timeoutMs = 20_000): Promise<RemoteWriteCounters> {
  let counters = remoteWriteCounters(await prom.metrics());
  let stableSince = Date.now();
  await eventually(
    async () => {
      const c = remoteWriteCounters(await prom.metrics());
      if (c.in !== counters.in || c.sent !== counters.sent || c.retried !== counters.retried) stableSince = Date.now();
      counters = c;
      return c.pending === 0 && Date.now() - stableSince >= 3000;
    },
    'Prometheus to flush its remote-write queue',
    timeoutMs,
    250,
  );
  return counters;
}
