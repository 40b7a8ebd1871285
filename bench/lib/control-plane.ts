// The built binary with -target=control-plane as a bench target, and the raw-ADS fleet processes that
// connect to it (bench/ads-fleet-client.ts), with the reads the fleet and DNS scenarios share.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIST, GATEWAY_CLI } from './paths.js';
import { freePort, httpGet, start, waitFor, type Child } from './proc.js';

export interface ControlPlaneTarget {
  readonly url: string;
  readonly xdsAddress: string;
  readonly configFile: string;
  readonly child: Child;
  /** Sum of the samples of `name` in /metrics whose label text contains every `filters` string. */
  metric(name: string, ...filters: string[]): Promise<number>;
  json<T>(path: string): Promise<T>;
  stop(): Promise<void>;
}

/** `cli`: another build's dist/app/cli.js to compare with (default: this checkout's). */
export async function controlPlane(
  dir: string,
  cpu: string | undefined,
  name: string,
  yaml: string,
  flags: readonly string[] = [],
  cli: string = GATEWAY_CLI,
): Promise<ControlPlaneTarget> {
  const [httpPort, grpcPort] = [await freePort(), await freePort()];
  const configFile = join(dir, `${name}.yaml`);
  writeFileSync(configFile, yaml);
  const child = start(
    name,
    process.execPath,
    [
      // e.g. BENCH_CP_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to see where the control plane's time goes.
      ...(process.env['BENCH_CP_NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== ''),
      cli,
      '-target=control-plane',
      `-config.file=${configFile}`,
      '-server.http-listen-address=127.0.0.1',
      `-server.http-listen-port=${httpPort}`,
      '-server.grpc-listen-address=127.0.0.1',
      `-server.grpc-listen-port=${grpcPort}`,
      '-log.level=warn',
      ...flags,
    ],
    { cpu, logFile: join(dir, `${name}.log`) },
  );
  const url = `http://127.0.0.1:${httpPort}`;
  await waitFor(`${name} /ready`, 60_000, async () => {
    if (child.proc.exitCode !== null) throw new Error(`${name} exited with ${child.proc.exitCode}; see ${dir}/${name}.log`);
    return (await httpGet(`${url}/ready`, 1000))?.status === 200 ? true : undefined;
  });
  return {
    url,
    xdsAddress: `127.0.0.1:${grpcPort}`,
    configFile,
    child,
    async metric(metricName, ...filters) {
      const text = (await httpGet(`${url}/metrics`, 10_000))?.body ?? '';
      let sum = 0;
      for (const line of text.split('\n')) {
        if (!line.startsWith(`${metricName}{`) && !line.startsWith(`${metricName} `)) continue;
        if (filters.every((f) => line.includes(f))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
      return sum;
    },
    async json<T>(path: string) {
      const r = await httpGet(`${url}${path}`, 30_000);
      if (r?.status !== 200) throw new Error(`GET ${path}: ${r?.status ?? 'no answer'}`);
      return JSON.parse(r.body) as T;
    },
    stop: () => child.stop(10_000),
  };
}

/** Names of the served resources of one type (`ClusterLoadAssignment`, `RouteConfiguration`, ...). */
export async function resourceNames(cp: ControlPlaneTarget, shortType: string): Promise<string[]> {
  const snap = await cp.json<{ resources: Record<string, Array<{ name: string }>> }>('/control-plane/api/v1/snapshot');
  return (snap.resources[shortType] ?? []).map((r) => r.name);
}

export interface FleetProgress {
  synced: number;
  acks: number;
  failed: number;
  closed?: boolean;
}

export interface FleetProcess {
  readonly child: Child;
  latest: FleetProgress;
  disconnect(): Promise<void>;
}

/** One process of `count` raw ADS streams (see bench/ads-fleet-client.ts). */
export function fleetProcess(
  cpu: string | undefined,
  o: { xdsAddress: string; count: number; protocol: 'sotw' | 'delta'; channels: number; prefix: string; eds: readonly string[]; rds: readonly string[] },
): FleetProcess {
  const args = [join(BENCH_DIST, 'ads-fleet-client.js'), o.xdsAddress, String(o.count), o.protocol, String(o.channels), o.prefix, o.eds.join(','), o.rds.join(',')];
  const child = start(o.prefix, process.execPath, args, { cpu, ipc: true });
  const fp: FleetProcess = {
    child,
    latest: { synced: 0, acks: 0, failed: 0 },
    async disconnect() {
      if (child.proc.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.proc.once('exit', () => r()));
      child.proc.send('disconnect');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
      await child.stop(1000);
    },
  };
  child.proc.on('message', (m: FleetProgress) => (fp.latest = m));
  return fp;
}
