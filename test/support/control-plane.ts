// Runs `-target=control-plane` in-process exactly as the CLI does (flags → config → modules), with
// its config in a temp file the test can rewrite, HTTP and gRPC on 127.0.0.1 port 0, and the log
// output (logfmt, as the binary prints it) captured so tests can read what an operator would see.

import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { loadConfig } from '../../app/config.js';
import { createLogger } from '../../app/logger.js';
import { buildModules, type Modules, type ModuleOptions } from '../../app/modules.js';
import type { BuildStatus } from '../../control-plane/control-plane.js';
import type { PlainMessage } from '../../xds/protos.js';
import type { NodeView } from '../../control-plane/xds/node-registry.js';
import { eventually } from './poll.js';

export interface RunningControlPlane {
  readonly modules: Modules;
  /** http://127.0.0.1:<port> of the /ready, /metrics and /control-plane/ API server. */
  readonly url: string;
  /** 127.0.0.1:<port> of the xDS (ADS) gRPC server. */
  readonly xdsAddress: string;
  readonly xdsPort: number;
  /** The config file the control plane watches. */
  readonly configFile: string;
  /** Replaces the config file in place (open + truncate + write, as most editors do). */
  writeConfig(yaml: string): void;
  /** Replaces the config file atomically: a temp file renamed over it (Kubernetes ConfigMap style). */
  renameConfig(yaml: string): void;
  /** Everything logged so far, logfmt lines. */
  logs(): string;
  stop(): Promise<void>;
}

export interface ControlPlaneOptions extends ModuleOptions {
  readonly yaml: string;
  readonly args?: readonly string[];
}

export async function startControlPlane(opts: ControlPlaneOptions): Promise<RunningControlPlane> {
  const dir = mkdtempSync(join(tmpdir(), 'mgw-cp-'));
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, opts.yaml);
  let logs = '';
  const destination = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      logs += chunk.toString();
      cb();
    },
  });
  let modules: Modules | undefined;
  try {
    const cfg = loadConfig([
      '-target=control-plane',
      `-config.file=${configFile}`,
      '-server.http-listen-address=127.0.0.1',
      '-server.http-listen-port=0',
      '-server.grpc-listen-address=127.0.0.1',
      '-server.grpc-listen-port=0',
      '-control-plane.dns.lookup-period=1s',
      ...(opts.args ?? []),
    ]);
    const logger = createLogger({ level: process.env['TEST_LOG_LEVEL'] ?? 'info', format: 'logfmt', destination });
    modules = buildModules(cfg, logger, opts.transform ? { transform: opts.transform } : {});
    await modules.start();
  } catch (err) {
    await modules?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const started = modules;
  const httpPort = Number(started.addresses()['http']!.split(':').pop());
  const xdsAddress = started.addresses()['grpc']!;
  let tmpCount = 0;
  return {
    modules: started,
    url: `http://127.0.0.1:${httpPort}`,
    xdsAddress,
    xdsPort: Number(xdsAddress.split(':').pop()),
    configFile,
    writeConfig: (yaml) => writeFileSync(configFile, yaml),
    renameConfig: (yaml) => {
      const tmp = join(dir, `.config.yaml.${++tmpCount}.tmp`);
      writeFileSync(tmp, yaml);
      renameSync(tmp, configFile);
    },
    logs: () => logs,
    stop: async () => {
      await started.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** GET `url` and parse JSON; throws on a non-2xx answer. */
export async function getJson<T>(url: string): Promise<T> {
  const res = await request(url);
  const text = await res.body.text();
  if (res.statusCode < 200 || res.statusCode > 299) throw new Error(`GET ${url}: ${res.statusCode} ${text}`);
  return JSON.parse(text) as T;
}

export async function getText(url: string): Promise<{ status: number; body: string }> {
  const res = await request(url);
  return { status: res.statusCode, body: await res.body.text() };
}

// The /control-plane/api/v1 answers, as JSON (types keyed by short name in /snapshot, by type URL elsewhere).

export interface SnapshotView {
  versions: Record<string, string>;
  resources: Record<string, { name: string; resource: PlainMessage }[]>;
}

export interface StatusView {
  snapshot: { versions: Record<string, string>; publishedAt: string | null };
  build: BuildStatus;
  /** lastError is null while the file loads fine. */
  config: { file: string; hash: string; lastError: { message: string } | null } | null;
  dns: { target: string; endpoints: { address: string; port: number }[] }[];
}

export const snapshotOf = (url: string): Promise<SnapshotView> => getJson<SnapshotView>(`${url}/control-plane/api/v1/snapshot`);
export const statusOf = (url: string): Promise<StatusView> => getJson<StatusView>(`${url}/control-plane/api/v1/status`);
export const nodesOf = async (url: string): Promise<NodeView[]> => (await getJson<{ nodes: NodeView[] }>(`${url}/control-plane/api/v1/nodes`)).nodes;
export const metricsOf = async (url: string): Promise<string> => (await getText(`${url}/metrics`)).body;

/** Polls `check` (sync or async) until it returns true or the deadline passes. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  await eventually(check, what, timeoutMs, 20);
}

/**
 * Value of one sample in Prometheus text exposition, e.g. metricSample(text,
 * 'control_plane_config_reloads_total', { outcome: 'failure' }); 0 when absent (a counter not yet
 * incremented for that label set is not exposed).
 */
export function metricSample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(m[3]);
  }
  return 0;
}
