// Zone-aware balancing through the control plane (issue 20): `zones:` (one dns:/// name per zone, as
// Mimir's per-zone distributor Services) → one locality per zone in the ClusterLoadAssignment → a
// gateway with -gateway.xds.locality-zone keeps its pushes in its zone, and moves them at once when
// that zone's distributors are gone. A grpc-js-xds client must ACK the zoned ClusterLoadAssignment.
import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from 'undici';
import { HttpGrpcServer } from '../examples/local/httpgrpc-server.js';
import { TYPE_URL } from '../xds/resource.js';
import { startDistributors, type Distributors } from './support/distributors.js';
import { nodesOf, snapshotOf, startControlPlane, until, type RunningControlPlane } from './support/control-plane.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { grpcXdsClient, handleCall } from './support/grpc-xds-client.js';

const ZONES = { 'zone-a': ['127.0.0.2', '127.0.0.3'], 'zone-b': ['127.0.0.4', '127.0.0.5'], 'zone-c': ['127.0.0.6', '127.0.0.7'] } as const;
type Zone = keyof typeof ZONES;

describe('zones through the control plane', () => {
  let cluster: Distributors;
  const byHost = new Map<string, HttpGrpcServer>();
  let cp: RunningControlPlane;
  let gw: RunningGateway;
  let http: Client;
  let grpcClient: grpc.Client;

  beforeAll(async () => {
    cluster = await startDistributors([...ZONES['zone-a']]);
    for (const s of cluster.servers) byHost.set(s.host, s);
    for (const z of ['zone-b', 'zone-c'] as const) {
      for (const h of ZONES[z]) byHost.set(h, await cluster.add(h, false));
      cluster.dns.setRecords(`${z}.test`, ZONES[z].map((address) => ({ type: 'A' as const, address, ttl: 1 })));
    }
    cluster.dns.setRecords('zone-a.test', ZONES['zone-a'].map((address) => ({ type: 'A' as const, address, ttl: 1 })));
    const url = (z: Zone): string => `dns://${cluster.dns.authority}/${z}.test:${cluster.port}`;
    const yaml = `gateway:\n  proxy:\n    distributor:\n      zones:\n${(Object.keys(ZONES) as Zone[]).map((z) => `        ${z}: ${url(z)}\n`).join('')}`;
    cp = await startControlPlane({ yaml });
    gw = await startGateway(['-target=gateway', `-gateway.xds.server-address=${cp.xdsAddress}`, '-gateway.xds.node-id=zone-gw', '-gateway.xds.locality-zone=zone-b']);
    http = new Client(gw.url, { pipelining: 1 });
    grpcClient = grpcXdsClient(cp.xdsAddress, 'zone-grpc', 'grpc-clients');
  });

  afterAll(async () => {
    grpcClient?.close();
    await http?.close();
    await gw?.stop();
    await cp?.stop();
    await cluster?.close();
  });

  const post = async (): Promise<number> => {
    const res = await http.request({ path: '/api/v1/push', method: 'POST', body: 'x', headers: { 'x-scope-orgid': 't' } });
    await res.body.dump();
    return res.statusCode;
  };
  const zoneCounts = async (n: number): Promise<Record<Zone, number>> => {
    const before = new Map([...byHost].map(([h, s]) => [h, s.requestCount]));
    for (let i = 0; i < n; i++) expect(await post()).toBe(200);
    const out: Record<Zone, number> = { 'zone-a': 0, 'zone-b': 0, 'zone-c': 0 };
    for (const z of Object.keys(ZONES) as Zone[]) for (const h of ZONES[z]) out[z] += byHost.get(h)!.requestCount - before.get(h)!;
    return out;
  };

  it('serves one locality per zone; the gRPC client ACKs it and its calls work', async () => {
    let snap = await snapshotOf(cp.url);
    await until(async () => {
      snap = await snapshotOf(cp.url);
      const cla = snap.resources['ClusterLoadAssignment']?.find((r) => r.name === 'distributor')?.resource as { endpoints?: unknown[] } | undefined;
      return cla?.endpoints?.length === 3;
    }, 10_000, 'three localities in the distributor ClusterLoadAssignment');
    const cla = snap.resources['ClusterLoadAssignment']!.find((r) => r.name === 'distributor')!.resource as { endpoints: { locality: { zone: string }; load_balancing_weight: { value: number }; lb_endpoints: unknown[] }[] };
    expect(cla.endpoints.map((l) => [l.locality.zone, l.load_balancing_weight.value, l.lb_endpoints.length])).toEqual([['zone-a', 2, 2], ['zone-b', 2, 2], ['zone-c', 2, 2]]);
    for (let i = 0; i < 6; i++) expect(await handleCall(grpcClient)).toBe(200);
    await until(async () => {
      const node = (await nodesOf(cp.url)).find((n) => n.nodeId === 'zone-grpc' && n.state === 'connected');
      return node?.types[TYPE_URL.endpoint]?.ackedVersion === snap.versions['ClusterLoadAssignment'];
    }, 10_000, 'the gRPC client to ACK the zoned ClusterLoadAssignment');
    const node = (await nodesOf(cp.url)).find((n) => n.nodeId === 'zone-grpc')!;
    for (const t of Object.values(node.types)) expect(t.lastNack).toBeNull();
  });

  it('keeps the gateway in zone-b, then moves at once to a and c when zone-b is gone, with no failed push', async () => {
    await until(async () => (await zoneCounts(6))['zone-b'] === 6, 10_000, 'the gateway to apply the zoned endpoints');
    expect(await zoneCounts(60)).toEqual({ 'zone-a': 0, 'zone-b': 60, 'zone-c': 0 });
    for (const h of ZONES['zone-b']) byHost.get(h)!.kill();
    const after = await zoneCounts(60);
    expect(after['zone-b']).toBe(0);
    expect(after['zone-a']).toBeGreaterThan(10);
    expect(after['zone-c']).toBeGreaterThan(10);
  });
});
