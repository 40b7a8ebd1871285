// A fleet of separate processes built from the binary (dist/, `npm run build`): one
// `-target=control-plane` serving xDS on 127.0.0.1, and gateways joining it with
// `-gateway.xds.server-address`. Separate processes so a control plane can really be SIGKILLed.

import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { request } from 'undici';
import { startCli, type Child } from './cli.js';

export interface ControlPlaneProcess {
  readonly child: Child;
  /** 127.0.0.1:<port> of its xDS gRPC server. */
  readonly xdsAddress: string;
}

/** The config file a control plane watches, in a temp dir, edited the two ways editors and Kubernetes do. */
export class WatchedConfig {
  readonly dir = mkdtempSync(join(tmpdir(), 'mgw-fleet-'));
  readonly file: string;
  private tmpCount = 0;

  /** `name`: the file's name in its directory (a tokens file is watched the same way). */
  constructor(yaml: string, name = 'config.yaml') {
    this.file = join(this.dir, name);
    writeFileSync(this.file, yaml);
  }

  /** Open + truncate + write, as most editors save. */
  writeInPlace(yaml: string): void {
    writeFileSync(this.file, yaml);
  }

  /** A temp file renamed over the config (atomic, ConfigMap style). */
  replaceAtomically(yaml: string): void {
    const tmp = join(this.dir, `.${basename(this.file)}.${++this.tmpCount}.tmp`);
    writeFileSync(tmp, yaml);
    renameSync(tmp, this.file);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts `-target=control-plane` on `config`; gRPC on `grpcPort` (0: ephemeral, read back from its log). */
export async function startControlPlaneProcess(config: WatchedConfig, grpcPort = 0, extraArgs: readonly string[] = []): Promise<ControlPlaneProcess> {
  const child = await startCli([
    '-target=control-plane',
    `-config.file=${config.file}`,
    '-server.grpc-listen-address=127.0.0.1',
    `-server.grpc-listen-port=${grpcPort}`,
    ...extraArgs,
  ]);
  const m = /msg="metrics-gateway started".* grpc=(\S+)/.exec(child.output());
  if (!m) {
    await child.stop('SIGKILL');
    throw new Error(`control plane did not log its gRPC address:\n${child.output()}`);
  }
  return { child, xdsAddress: m[1]! };
}

/** Starts `-target=gateway` joined to `xdsAddress`; resolves once it has applied a config (/ready). */
export function startGatewayProcess(xdsAddress: string, extraArgs: readonly string[] = []): Promise<Child> {
  return startCli(['-target=gateway', `-gateway.xds.server-address=${xdsAddress}`, ...extraArgs]);
}

export interface AppliedUpstream {
  readonly cluster: string;
  readonly backend: string;
  readonly url: string;
  readonly timeout_ms: number;
  readonly endpoints?: ReadonlyArray<{ readonly address: string; readonly state: string; readonly inFlight: number }>;
}

export interface AppliedConfig {
  readonly applied: { readonly version: string; readonly upstreams: readonly AppliedUpstream[] } | null;
  readonly xds: unknown;
}

/** What a gateway applied, from its own /gateway/api/v1/config. */
export async function appliedConfig(gatewayUrl: string): Promise<AppliedConfig> {
  const res = await request(`${gatewayUrl}/gateway/api/v1/config`);
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET ${gatewayUrl}/gateway/api/v1/config: ${res.statusCode} ${text}`);
  return JSON.parse(text) as AppliedConfig;
}

export async function upstreamOf(gatewayUrl: string, backend: string): Promise<AppliedUpstream | undefined> {
  return (await appliedConfig(gatewayUrl)).applied?.upstreams.find((u) => u.backend === backend);
}

/** A port on `host` that refuses connections (bound a moment ago, then closed): a backend that is down. */
export async function refusedPort(host = '127.0.0.9'): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, host, r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
