import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { GATEWAY_METADATA_KEY } from '../xds/gateway-metadata.js';
import { encodeResource, decodeResource } from '../xds/protos.js';
import type { NodeView } from '../control-plane/xds/node-registry.js';
import { TYPE_URL, type TypeUrl, type XdsResource } from '../xds/resource.js';
import { startDistributors, type Distributors } from './support/distributors.js';
import { HttpBackend } from './support/http-backend.js';
import { appliedVersion, eventually, startGateway, type RunningGateway } from './support/gateway.js';
import { startLoad } from './support/load.js';

// Fleet mode: one control plane (-target=control-plane), two gateways joining it over xDS.
describe('a fleet of gateways on one control plane', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mgw-fleet-'));
  const file = join(dir, 'gateway.yaml');
  let cluster: Distributors;
  let qfA: HttpBackend;
  let qfB: HttpBackend;
  let cp: RunningGateway;
  let grpcPort = 0;
  const gateways: RunningGateway[] = [];
  // Switched on by a test: the control plane then serves a cluster no gateway can use.
  let poison = false;

  const transform = (resources: Map<TypeUrl, XdsResource[]>): void => {
    if (!poison) return;
    const clusters = resources.get(TYPE_URL.cluster)!;
    const i = clusters.findIndex((r) => r.name === 'query_frontend');
    const view = decodeResource(TYPE_URL.cluster, clusters[i]!.value) as { metadata: { filter_metadata: Record<string, { fields: Record<string, unknown> }> } };
    view.metadata.filter_metadata[GATEWAY_METADATA_KEY]!.fields['proxy'] = { stringValue: 'carrier-pigeon' };
    clusters[i] = { ...clusters[i]!, value: encodeResource(TYPE_URL.cluster, view), view };
  };

  const writeConfig = (qf: HttpBackend): void =>
    writeFileSync(file, `gateway:\n  proxy:\n    query_frontend: { url: "${qf.url}" }\n    distributor: { url: "${cluster.url}" }\n`);

  const startControlPlane = (port: number): Promise<RunningGateway> =>
    startGateway(['-target=control-plane', `-config.file=${file}`, '-control-plane.dns.lookup-period=1s', `-server.grpc-listen-port=${port}`], { transform });

  beforeAll(async () => {
    cluster = await startDistributors(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    qfA = await HttpBackend.start('qf-a', '127.0.0.6');
    qfB = await HttpBackend.start('qf-b', '127.0.0.7');
    writeConfig(qfA);
    cp = await startControlPlane(0);
    grpcPort = Number(cp.grpc.split(':').pop());
    for (let i = 0; i < 2; i++) {
      gateways.push(await startGateway([`-gateway.xds.server-address=${cp.grpc}`, `-gateway.xds.node-id=gw-${i}`, '-gateway.xds.cluster=fleet-test']));
    }
    for (const g of gateways) await eventually(async () => (await appliedVersion(g.url)) !== '', 'first config on each gateway');
  });
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await cp?.stop();
    await cluster?.close();
    await Promise.all([qfA, qfB].map((b) => b?.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  const backendOf = async (g: RunningGateway): Promise<string> => {
    const res = await request(`${g.url}/prometheus/api/v1/labels`);
    await res.body.dump();
    return String(res.headers['x-backend']);
  };

  it('shows both gateways in the control plane node registry with ACKed versions', async () => {
    // Every type each gateway ACKed is the version the control plane serves (the ACK is on its way
    // when the gateway applies, so poll).
    const served = cp.modules.controlPlane!.cache.getSnapshot()!.versions();
    const types = [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener, TYPE_URL.route];
    const body = (await eventually(async () => {
      const b = (await (await request(`${cp.url}/control-plane/api/v1/nodes`)).body.json()) as { nodes: NodeView[] };
      return b.nodes.length === 2 && b.nodes.every((n) => types.every((t) => n.types[t]?.ackedVersion === served[t])) ? b : undefined;
    }, 'both gateways to ACK every type'))!;
    expect(body.nodes.map((n) => n.nodeId).sort()).toEqual(['gw-0', 'gw-1']);
    expect(body.nodes.every((n) => n.cluster === 'fleet-test')).toBe(true);
    for (const n of body.nodes) {
      for (const t of types) expect(n.types[t]?.ackedVersion).toBe(served[t]);
    }
  });

  it('applies a config change on both gateways', async () => {
    expect(await backendOf(gateways[0]!)).toBe('qf-a');
    writeConfig(qfB);
    for (const g of gateways) await eventually(async () => (await backendOf(g)) === 'qf-b', 'qf-b on every gateway', 5000);
  });

  it('keeps serving with zero failures while the control plane is killed and restarted, then resumes', async () => {
    const load = startLoad(gateways[0]!.url, [
      { path: '/api/v1/push', method: 'POST', body: 'x' },
      { path: '/prometheus/api/v1/query', method: 'GET' },
    ], { concurrency: 4, maxMs: 170_000, maxRequests: 200_000 });
    const load2 = startLoad(gateways[1]!.url, [{ path: '/api/v1/push', method: 'POST', body: 'x' }], { concurrency: 2, maxMs: 170_000, maxRequests: 100_000 });
    try {
      await cp.stop();
      // The gateways notice and keep their last good config.
      const sent = load.sent();
      await eventually(() => load.sent() > sent + 50, 'requests while the control plane is down', 30_000, 5);
      writeConfig(qfA);
      cp = await startControlPlane(grpcPort);
      // Resumed: the change made while the control plane was away reaches both gateways (their
      // reconnect backoff grows while it is away, so allow for a few attempts under a loaded CI).
      for (const g of gateways) await eventually(async () => (await backendOf(g)) === 'qf-a', 'qf-a after the restart', 40_000, 50);
      // And the load goes on after the restart (counted, not timed: a busy machine sends fewer per second).
      const resumed = load.sent();
      await eventually(() => load.sent() > resumed + 50, 'requests after the restart', 30_000, 5);
    } finally {
      await load.stop();
      await load2.stop();
    }
    expect([...load.failures, ...load2.failures]).toEqual([]);
  }, 180_000);

  it('NACKs a resource it cannot serve, keeps serving, and the control plane shows the NACK', async () => {
    const before = await appliedVersion(gateways[0]!.url);
    poison = true;
    writeConfig(qfB); // triggers a rebuild; the control plane now serves the poisoned cluster
    try {
      const nack = await eventually(async () => {
        const res = await request(`${cp.url}/control-plane/api/v1/nodes`);
        const text = await res.body.text();
        return text.includes('carrier-pigeon') ? text : '';
      }, 'the NACK in the node registry', 5000);
      expect(nack).toContain('Cluster \\"query_frontend\\": metadata proxy \\"carrier-pigeon\\" is neither \\"http\\" nor \\"httpgrpc\\"');
      // Still serving the last good config (query_frontend = A), unchanged version.
      expect(await backendOf(gateways[0]!)).toBe('qf-a');
      expect(await appliedVersion(gateways[0]!.url)).toBe(before);
      const res = await request(`${gateways[0]!.url}/gateway/api/v1/config`);
      expect(await res.body.text()).toContain('carrier-pigeon');
    } finally {
      poison = false;
      writeConfig(qfA);
    }
  });
});

describe('a gateway whose control plane is not there yet', () => {
  it('is not ready and answers 503 naming the control plane it waits for', async () => {
    const gw = await startGateway(['-gateway.xds.server-address=127.0.0.1:9,127.0.0.2:9']);
    try {
      const ready = await request(`${gw.url}/ready`);
      expect(ready.statusCode).toBe(503);
      await ready.body.dump();
      const res = await request(`${gw.url}/api/v1/push`, { method: 'POST', body: 'x' });
      expect(res.statusCode).toBe(503);
      expect(res.headers['x-gateway-error']).toBe('GW_ERR_NOT_READY');
      expect(await res.body.text()).toBe(
        'the gateway waits for the first configuration from the control plane at 127.0.0.1:9, 127.0.0.2:9 (-gateway.xds.server-address)\n',
      );
    } finally {
      await gw.stop();
    }
  });
});
