// Zone-aware balancing through the control plane (issue 20): `zones:` (one dns:/// name per zone, as
// Mimir's per-zone distributor Services) → one locality per zone in the ClusterLoadAssignment → a
// gateway with -gateway.xds.locality-zone keeps its pushes in its zone, and moves them at once when
// that zone's distributors are gone. Gateways per zone (Envoy's local cluster) come from the control
// plane's count of connected streams by Node.locality.zone, in each locality's metadata. A grpc-js-xds
// client must ACK the zoned ClusterLoadAssignment.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpGrpcServer } from '../examples/local/httpgrpc-server.js';
import { TYPE_URL } from '../xds/resource.js';
import { startDistributors, type Distributors } from './support/distributors.js';
import { getJson, snapshotOf, until } from './support/control-plane.js';
import { handleCall } from './support/grpc-xds-client.js';
import { startXdsPair, type XdsPair } from './support/xds-pair.js';
import { startGateway, type RunningGateway } from './support/gateway.js';

const ZONES = { 'zone-a': ['127.0.0.2', '127.0.0.3'], 'zone-b': ['127.0.0.4', '127.0.0.5'], 'zone-c': ['127.0.0.6', '127.0.0.7'] } as const;
type Zone = keyof typeof ZONES;

describe('zones through the control plane', () => {
  let cluster: Distributors;
  const byHost = new Map<string, HttpGrpcServer>();
  let pair: XdsPair;
  let others: RunningGateway[] = [];

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
    pair = await startXdsPair({ yaml, name: 'zone', gatewayArgs: ['-gateway.xds.locality-zone=zone-b'], cpArgs: ['-control-plane.load-reporting-interval=1s'] });
    // One gateway in each zone: the fleet is even, so each keeps its pushes local.
    for (const z of ['zone-a', 'zone-c']) {
      others.push(await startGateway(['-target=gateway', `-gateway.xds.server-address=${pair.cp.xdsAddress}`, `-gateway.xds.node-id=zone-gw-${z}`, `-gateway.xds.locality-zone=${z}`]));
    }
  });

  afterAll(async () => {
    for (const g of others) await g.stop();
    await pair?.close();
    await cluster?.close();
  });

  const post = (): Promise<number> => pair.post();
  const zoneCounts = async (n: number): Promise<Record<Zone, number>> => {
    const before = new Map([...byHost].map(([h, s]) => [h, s.requestCount]));
    for (let i = 0; i < n; i++) expect(await post()).toBe(200);
    const out: Record<Zone, number> = { 'zone-a': 0, 'zone-b': 0, 'zone-c': 0 };
    for (const z of Object.keys(ZONES) as Zone[]) for (const h of ZONES[z]) out[z] += byHost.get(h)!.requestCount - before.get(h)!;
    return out;
  };

  it('serves one locality per zone; the gRPC client ACKs it and its calls work', async () => {
    let snap = await snapshotOf(pair.cp.url);
    await until(async () => {
      snap = await snapshotOf(pair.cp.url);
      const cla = snap.resources['ClusterLoadAssignment']?.find((r) => r.name === 'distributor')?.resource as { endpoints?: unknown[] } | undefined;
      return cla?.endpoints?.length === 3;
    }, 10_000, 'three localities in the distributor ClusterLoadAssignment');
    const cla = snap.resources['ClusterLoadAssignment']!.find((r) => r.name === 'distributor')!.resource as { endpoints: { locality: { zone: string }; load_balancing_weight: { value: number }; lb_endpoints: unknown[] }[] };
    expect(cla.endpoints.map((l) => [l.locality.zone, l.load_balancing_weight.value, l.lb_endpoints.length])).toEqual([['zone-a', 2, 2], ['zone-b', 2, 2], ['zone-c', 2, 2]]);
    for (let i = 0; i < 6; i++) expect(await handleCall(pair.grpcClient)).toBe(200);
  });

  it('counts the connected gateways per zone into each locality (the local cluster); zoneless clients are not counted', async () => {
    const gatewaysOf = async (): Promise<Record<string, number | undefined>> => {
      const cla = (await snapshotOf(pair.cp.url)).resources['ClusterLoadAssignment']?.find((r) => r.name === 'distributor')?.resource as
        | { endpoints?: { locality: { zone: string }; metadata?: { filter_metadata: Record<string, { fields: { gateways?: { numberValue: number } } }> } }[] }
        | undefined;
      return Object.fromEntries((cla?.endpoints ?? []).map((l) => [l.locality.zone, l.metadata?.filter_metadata['metrics-gateway']?.fields.gateways?.numberValue]));
    };
    await until(async () => JSON.stringify(await gatewaysOf()) === JSON.stringify({ 'zone-a': 1, 'zone-b': 1, 'zone-c': 1 }), 10_000, 'one gateway counted per zone');
    // The gRPC client (no zone) is connected too, and the resource with the counts is ACKed by it.
    const versions = (await snapshotOf(pair.cp.url)).versions;
    await pair.grpcAcked(TYPE_URL.endpoint, versions['ClusterLoadAssignment']);
    // The Cluster carries common_lb_config.zone_aware_lb_config (Envoy's defaults): ACKed too.
    await pair.grpcAcked(TYPE_URL.cluster, versions['Cluster']);
  });

  it('keeps the gateway in zone-b, then moves at once to a and c when zone-b is gone, with no failed push', async () => {
    await until(async () => (await zoneCounts(6))['zone-b'] === 6, 10_000, 'the gateway to apply the zoned endpoints');
    expect(await zoneCounts(60)).toEqual({ 'zone-a': 0, 'zone-b': 60, 'zone-c': 0 });
    // The zone → zone matrix of the fleet's load reports: zone-b to zone-b only, cross-zone share 0
    // (the zoneless gRPC client's calls to every zone are shown under "" and not in the share).
    type Matrix = { cells: { fromZone: string; toZone: string; rps: number }[]; crossZoneShare: number | null };
    let zones: Matrix | undefined;
    await until(async () => {
      zones = (await getJson<{ zones: Matrix }>(`${pair.cp.url}/control-plane/api/v1/load`)).zones;
      return zones.cells.some((c) => c.fromZone === 'zone-b' && c.toZone === 'zone-b' && c.rps > 0);
    }, 10_000, 'the load reports to show zone-b → zone-b');
    expect(zones!.cells.filter((c) => c.fromZone !== '').map((c) => [c.fromZone, c.toZone])).toEqual([['zone-b', 'zone-b']]);
    expect(zones!.crossZoneShare).toBe(0);
    // The zone-a and zone-c gateways leave: zone-b's gateway is the whole zoned fleet with a third of
    // the endpoints, so Envoy's arithmetic keeps 1/3 local and spreads the rest over a and c.
    for (const g of others) await g.stop();
    others = [];
    await until(async () => (await zoneCounts(30))['zone-a'] > 0, 10_000, 'the gateway to see the new counts');
    const spread = await zoneCounts(90);
    for (const z of Object.keys(ZONES) as Zone[]) expect(spread[z]).toBeGreaterThan(12);
    for (const h of ZONES['zone-b']) byHost.get(h)!.kill();
    const after = await zoneCounts(60);
    expect(after['zone-b']).toBe(0);
    expect(after['zone-a']).toBeGreaterThan(10);
    expect(after['zone-c']).toBeGreaterThan(10);
  });
});
