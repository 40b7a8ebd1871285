import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { AdsTestClient } from './support/ads-client.js';
import { startCli, type Child } from './support/cli.js';
import {
  getText, metricSample, metricsOf, nodesOf, snapshotOf, startControlPlane, statusOf, until, type RunningControlPlane, type SnapshotView, type StatusView,
} from './support/control-plane.js';
import { startDistributors, type Distributors } from './support/distributors.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { HttpBackend } from './support/http-backend.js';
import { shortType, TYPE_URL, type TypeUrl, type XdsResource } from '../xds/resource.js';
import { encodeResource, type PlainMessage } from '../xds/protos.js';
import type { NodeView } from '../control-plane/xds/node-registry.js';

// The control plane as an operator meets it: the -target=control-plane binary and its HTTP API,
// what happens when the config file or a snapshot is bad (the last good snapshot stays served and
// the reason is visible), and how the config file is watched.

describe('-target=control-plane binary', () => {
  let dir: string;
  let backend: HttpBackend;
  let cli: Child;
  let gw: RunningGateway | undefined;
  let ads: AdsTestClient | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mgw-cp-cli-'));
    backend = await HttpBackend.start('query-frontend');
    const file = join(dir, 'config.yaml');
    // An IP-literal dns:// backend too, so the gateway subscribes to all four types (EDS included).
    writeFileSync(file, `gateway:\n  proxy:\n    default: { url: "${backend.url}" }\n    distributor: { url: "dns:///127.0.0.2:9095" }\n`);
    cli = await startCli(['-target=control-plane', `-config.file=${file}`, '-server.grpc-listen-address=127.0.0.1', '-server.grpc-listen-port=0']);
  });
  afterAll(async () => {
    ads?.close();
    await gw?.stop();
    await cli?.stop();
    await backend?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const grpcPort = (): number => Number(/msg="metrics-gateway started".* grpc=127\.0\.0\.1:(\d+)/.exec(cli.output())?.[1]);

  it('serves /ready, /metrics with control_plane_* metrics, /snapshot and /status', async () => {
    expect(await getText(`${cli.url}/ready`)).toEqual({ status: 200, body: 'ready\n' });
    const metrics = await metricsOf(cli.url);
    for (const name of ['control_plane_snapshot_build_seconds', 'control_plane_snapshot_publishes_total', 'control_plane_config_reloads_total', 'control_plane_xds_connected_streams']) {
      expect(metrics).toContain(`# TYPE ${name} `);
    }
    expect(metricSample(metrics, 'control_plane_snapshot_publishes_total')).toBeGreaterThanOrEqual(1);

    const snap = await snapshotOf(cli.url);
    expect(Object.keys(snap.versions).sort()).toEqual(['Cluster', 'ClusterLoadAssignment', 'Listener', 'RouteConfiguration']);
    for (const v of Object.values(snap.versions)) expect(v).toMatch(/^[0-9a-f]{16}$/);
    // The gateway's listener, plus an api_listener per dns:// backend for proxyless gRPC clients.
    expect(snap.resources['Listener']!.map((r) => r.name)).toEqual(['distributor', 'metrics-gateway']);
    expect(snap.resources['Cluster']!.map((r) => r.name)).toContain('query_frontend');
    expect(snap.resources['ClusterLoadAssignment']!.map((r) => r.name)).toEqual(['distributor']);

    const status = await statusOf(cli.url);
    expect(status.build.lastError).toBeNull();
    expect(status.config?.file).toMatch(/config\.yaml$/);
    expect(status.config?.lastError ?? null).toBeNull();
    expect(status.snapshot.versions[TYPE_URL.cluster]).toBe(snap.versions['Cluster']);
  });

  it('lists a remote gateway in /nodes with its node id, cluster and the versions it ACKed, and feeds it', async () => {
    gw = await startGateway(['-target=gateway', `-gateway.xds.server-address=127.0.0.1:${grpcPort()}`, '-gateway.xds.node-id=gw-e2e-1', '-gateway.xds.cluster=edge']);
    const snap = await snapshotOf(cli.url);
    let node: NodeView | undefined;
    await until(
      async () => {
        node = (await nodesOf(cli.url)).find((n) => n.nodeId === 'gw-e2e-1' && n.state === 'connected');
        return Object.values(TYPE_URL).every((t) => node?.types[t]?.ackedVersion === snap.versions[shortType(t)]);
      },
      5000,
      'the gateway to ACK every type of the served snapshot',
    );
    expect(node!.cluster).toBe('edge');
    expect(node!.userAgent).toMatch(/^metrics-gateway/);
    for (const t of Object.values(node!.types)) expect(t.lastNack).toBeNull();
    // ... and the configuration it got works: a query reaches the backend named in the control plane's file.
    const res = await request(`${gw.url}/prometheus/api/v1/query?query=up`);
    expect(res.statusCode).toBe(200);
    expect(((await res.body.json()) as { backend: string }).backend).toBe('query-frontend');
    expect(metricSample(await metricsOf(cli.url), 'control_plane_xds_connected_streams')).toBeGreaterThanOrEqual(1);
  });

  it('lists a raw ADS client after it ACKs clusters', async () => {
    ads = new AdsTestClient(grpcPort());
    const stream = ads.sotw();
    stream.send({ type_url: TYPE_URL.cluster, resource_names: [] });
    const res = await stream.next(3000);
    stream.ack(res);
    await until(
      async () => (await nodesOf(cli.url)).some((n) => n.nodeId === 'gateway-1' && n.types[TYPE_URL.cluster]?.ackedVersion === res.version_info),
      3000,
      'the raw client in /nodes with its ACKed Cluster version',
    );
    const node = (await nodesOf(cli.url)).find((n) => n.nodeId === 'gateway-1')!;
    expect(node.cluster).toBe('gateways');
    expect(res.version_info).toBe((await snapshotOf(cli.url)).versions['Cluster']);
    stream.cancel();
  });

  it('exits 0 on SIGTERM', async () => {
    ads?.close();
    ads = undefined;
    await gw?.stop();
    gw = undefined;
    expect(await cli.stop()).toBe(0);
  });
});

describe('config file: bad edits keep the last good snapshot, and how the file is watched', () => {
  let backends: HttpBackend[];
  let cp: RunningControlPlane;
  const good = (i: number): string => `gateway:\n  proxy:\n    default: { url: "${backends[i]!.url}" }\n`;

  beforeAll(async () => {
    backends = [await HttpBackend.start('a'), await HttpBackend.start('b'), await HttpBackend.start('c')];
    cp = await startControlPlane({ yaml: good(0) });
  });
  afterAll(async () => {
    await cp?.stop();
    for (const b of backends ?? []) await b.close();
  });

  const reloads = async (outcome: 'success' | 'failure'): Promise<number> =>
    metricSample(await metricsOf(cp.url), 'control_plane_config_reloads_total', { outcome });
  /** The url of the `default` cluster being served (its metadata carries the configured url). */
  const servedUrl = async (): Promise<string> => {
    const c = (await snapshotOf(cp.url)).resources['Cluster']!.find((r) => r.name === 'default')!;
    const meta = c.resource['metadata'] as { filter_metadata: Record<string, { fields: Record<string, { stringValue?: string }> }> };
    return meta.filter_metadata['metrics-gateway']!.fields['url']!.stringValue ?? '';
  };
  const waitServed = (url: string): Promise<void> => until(async () => (await servedUrl()) === url, 4000, `the snapshot to serve ${url}`);

  const badEdits: Array<[string, (file: string) => string, (file: string) => RegExp]> = [
    ['bad YAML', () => 'gateway:\n  proxy:\n    default: { url: "http://127.0.0.1:1"\n', (f) => new RegExp(`^${esc(f)}:\\d+:\\d+: invalid YAML: `)],
    [
      'an unknown key',
      () => 'gateway:\n  proxy:\n    distributer:\n      url: http://127.0.0.1:1\n',
      (f) => new RegExp(`^${esc(f)}:3:5: unknown key "gateway\\.proxy\\.distributer"; did you mean "distributor"\\?`),
    ],
    [
      'a bad URL',
      () => 'gateway:\n  proxy:\n    distributor:\n      url: dns://distributor:9095\n',
      (f) => new RegExp(`^${esc(f)}:4:12: gateway\\.proxy\\.distributor\\.url: "dns://distributor:9095" has two slashes.*use dns:///distributor:9095`),
    ],
  ];

  // Each fix serves a different backend than the one before, so "served" proves the reload happened.
  const fixes = [1, 2, 1];
  badEdits.forEach(([what, text, expected], i) => {
    it(`${what}: previous snapshot stays served, error in /status, the log and the failure counter`, async () => {
      const before = await snapshotOf(cp.url);
      const failures = await reloads('failure');
      const logLength = cp.logs().length;
      cp.writeConfig(text(cp.configFile));
      let status: StatusView | undefined;
      await until(async () => (status = await statusOf(cp.url)).config?.lastError != null, 4000, 'config.lastError');
      expect(status!.config!.lastError!.message).toMatch(expected(cp.configFile));
      expect((await snapshotOf(cp.url)).versions).toEqual(before.versions);
      expect((await getText(`${cp.url}/ready`)).status).toBe(200);
      expect(await reloads('failure')).toBe(failures + 1);
      const logged = cp.logs().slice(logLength);
      expect(logged).toMatch(/level=error msg="config reload failed, keeping the last good config: /);
      expect(logged).toContain(status!.config!.lastError!.message.split(': ')[0]); // file:line:col

      // Fixing the file recovers: the error clears and the new content is served.
      cp.writeConfig(good(fixes[i]!));
      await waitServed(backends[fixes[i]!]!.url);
      expect((await statusOf(cp.url)).config?.lastError).toBeNull();
    });
  });

  it('picks up an atomic rename over the file (Kubernetes ConfigMap style)', async () => {
    const successes = await reloads('success');
    cp.renameConfig(good(0));
    await waitServed(backends[0]!.url);
    expect(await reloads('success')).toBe(successes + 1);
    expect((await statusOf(cp.url)).config?.hash).toBe(createHash('sha256').update(good(0)).digest('hex'));
  });

  it('turns a burst of writes within 100 ms, a half-written file among them, into one reload', async () => {
    const [successes, failures] = [await reloads('success'), await reloads('failure')];
    const half = good(2).slice(0, good(2).length - 12); // an editor caught mid-write: invalid YAML
    const writes = [good(1), half, good(2), half, good(2)];
    // One event-loop turn between writes: the watcher sees each change event mid-burst (the debounce is
    // exercised), yet the burst stays far inside the quiet period on a busy machine (no timed precondition).
    for (const text of writes) {
      cp.writeConfig(text);
      await new Promise((r) => setImmediate(r));
    }
    await waitServed(backends[2]!.url);
    // Longer than the 100 ms quiet period, so a second (late) reload would have happened by now.
    await new Promise((r) => setTimeout(r, 300));
    expect(await reloads('success')).toBe(successes + 1);
    expect(await reloads('failure')).toBe(failures);
    expect((await statusOf(cp.url)).config?.lastError).toBeNull();
  });

  it('keeps serving when the file vanishes, reports it, and reloads when it comes back', async () => {
    const before = await snapshotOf(cp.url);
    const failures = await reloads('failure');
    unlinkSync(cp.configFile);
    let status: StatusView | undefined;
    await until(async () => (status = await statusOf(cp.url)).config?.lastError != null, 4000, 'config.lastError after removal');
    expect(status!.config!.lastError!.message).toBe(`${cp.configFile}: cannot read config file: no such file`);
    expect(await reloads('failure')).toBe(failures + 1);
    expect((await snapshotOf(cp.url)).versions).toEqual(before.versions);
    expect((await getText(`${cp.url}/ready`)).status).toBe(200);

    cp.writeConfig(good(1));
    await waitServed(backends[1]!.url);
    expect((await statusOf(cp.url)).config?.lastError).toBeNull();
  });
});

describe('snapshots that fail a check are never served', () => {
  let cluster: Distributors;
  let backend: HttpBackend;
  let cp: RunningControlPlane;
  /** Switched on by a test; the control plane applies it to every snapshot it builds. */
  let inject: ((resources: Map<TypeUrl, XdsResource[]>) => void) | undefined;
  const config = (qf: string): string => `gateway:\n  proxy:\n    distributor: { url: "${cluster.url}" }\n    query_frontend: { url: "${qf}" }\n`;

  beforeAll(async () => {
    cluster = await startDistributors(['127.0.0.2', '127.0.0.3']);
    backend = await HttpBackend.start('qf');
    cp = await startControlPlane({ yaml: config(backend.url), transform: (m) => inject?.(m) });
  });
  afterAll(async () => {
    inject = undefined;
    await cp?.stop();
    await backend?.close();
    await cluster?.close();
  });

  /** Re-encodes resource `name` of `typeUrl` after `edit` changed a copy of its plain view. */
  function replace(resources: Map<TypeUrl, XdsResource[]>, typeUrl: TypeUrl, name: string, edit: (view: PlainMessage) => void): void {
    const list = resources.get(typeUrl)!;
    const i = list.findIndex((r) => r.name === name);
    const view = structuredClone(list[i]!.view) as PlainMessage;
    edit(view);
    list[i] = { ...list[i]!, value: encodeResource(typeUrl, view), view };
  }

  /** Waits for a build failure newer than `after`; returns the status. */
  async function failedSince(after: string | undefined): Promise<StatusView> {
    let status: StatusView | undefined;
    await until(async () => {
      status = await statusOf(cp.url);
      return status.build.lastError !== null && status.build.lastError.at !== after;
    }, 5000, 'a snapshot build failure');
    return status!;
  }

  /** Switches the injection off and edits the config (`path` makes it new content): the fix is served. */
  async function expectRecovered(before: SnapshotView, path: string): Promise<void> {
    inject = undefined;
    cp.writeConfig(config(`${backend.url}${path}`));
    await until(async () => (await snapshotOf(cp.url)).versions['Cluster'] !== before.versions['Cluster'], 4000, 'a new snapshot after the fix');
    const status = await statusOf(cp.url);
    // A successful build clears the error, as a good config reload does.
    expect(status.build.lastError).toBeNull();
    expect(status.build.lastSuccessAt).not.toBeNull();
  }

  it('inconsistent (a Cluster whose ClusterLoadAssignment is missing), after a config edit', async () => {
    const before = await snapshotOf(cp.url);
    const prevError = (await statusOf(cp.url)).build.lastError?.at;
    inject = (m) => {
      const orphan: PlainMessage = { name: 'orphan', type: 'EDS', eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } }, connect_timeout: { seconds: 1 } };
      m.get(TYPE_URL.cluster)!.push({
        name: 'orphan', typeUrl: TYPE_URL.cluster, value: encodeResource(TYPE_URL.cluster, orphan), view: orphan,
        refs: [{ typeUrl: TYPE_URL.endpoint, names: ['orphan'] }],
      });
    };
    cp.writeConfig(config(`${backend.url}/edited`));
    const status = await failedSince(prevError);
    expect(status.build.lastError).toMatchObject({ stage: 'consistency', problems: ['Cluster "orphan" refers to missing ClusterLoadAssignment "orphan"'] });
    expect(status.config?.lastError).toBeNull(); // the file itself was fine
    expect((await snapshotOf(cp.url)).versions).toEqual(before.versions);
    expect(metricSample(await metricsOf(cp.url), 'control_plane_snapshot_build_failures_total', { stage: 'consistency' })).toBeGreaterThanOrEqual(1);
    expect(cp.logs()).toContain('snapshot not published (consistency)');
    await expectRecovered(before, '/recovered-1');
  });

  it('PGV-invalid (negative connect_timeout), after a config edit', async () => {
    const before = await snapshotOf(cp.url);
    const prevError = (await statusOf(cp.url)).build.lastError?.at;
    inject = (m) => replace(m, TYPE_URL.cluster, 'query_frontend', (v) => void (v['connect_timeout'] = { seconds: -1 }));
    cp.writeConfig(config(`${backend.url}/edited-again`));
    const status = await failedSince(prevError);
    expect(status.build.lastError?.stage).toBe('validate');
    expect(status.build.lastError?.problems.join('\n')).toMatch(/connect_timeout/);
    expect((await snapshotOf(cp.url)).versions).toEqual(before.versions);
    expect(metricSample(await metricsOf(cp.url), 'control_plane_snapshot_build_failures_total', { stage: 'validate' })).toBeGreaterThanOrEqual(1);
    await expectRecovered(before, '/recovered-2');
  });

  it('PGV-invalid (an endpoint with port 70000), after a DNS change', async () => {
    const before = await snapshotOf(cp.url);
    const prevError = (await statusOf(cp.url)).build.lastError?.at;
    inject = (m) =>
      replace(m, TYPE_URL.endpoint, 'distributor', (v) => {
        const lb = (v['endpoints'] as { lb_endpoints: { endpoint: { address: { socket_address: { port_value: number } } } }[] }[])[0]!.lb_endpoints;
        lb[0]!.endpoint.address.socket_address.port_value = 70000;
      });
    await cluster.add('127.0.0.4'); // the DNS watcher sees a third record and rebuilds
    const status = await failedSince(prevError);
    expect(status.build.lastError?.stage).toBe('validate');
    expect(status.build.lastError?.problems.join('\n')).toMatch(/socket_address\.port_value: value must be less than or equal to 65535/);
    expect((await snapshotOf(cp.url)).versions).toEqual(before.versions);
    // The DNS answer itself was taken in (the status shows three records) but not served.
    expect(status.dns.find((d) => d.target.includes('distributor.test'))?.endpoints).toHaveLength(3);
    await expectRecovered(before, '/recovered-3');
  });
});

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
