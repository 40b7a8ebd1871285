// Zone-aware balancing (issue 20, data-plane layer): Envoy's arithmetic on the pure planner, then the
// balancer's first layer against real httpgrpc servers in three "zones" of loopback hosts.
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from 'undici';
import { HttpGrpcServer } from '../examples/local/httpgrpc-server.js';
import { chooseZone, planZones, ZONE_AWARE_DEFAULTS } from '../data-plane/httpgrpc/zone-chooser.js';
import { readyCount, startProxy, waitFor, type Proxy } from './support/httpgrpc-harness.js';

const m = (o: Record<string, number>): Map<string, number> => new Map(Object.entries(o));
const even = m({ a: 1, b: 1, c: 1 });

describe("Envoy's zone-aware arithmetic", () => {
  it('keeps everything local when the local zone holds at least its share', () => {
    expect(planZones('a', m({ a: 3, b: 3, c: 3 }), even, ZONE_AWARE_DEFAULTS)).toEqual({ kind: 'local', zone: 'a' });
    expect(planZones('b', m({ a: 1, b: 3, c: 3 }), even, ZONE_AWARE_DEFAULTS)).toEqual({ kind: 'local', zone: 'b' });
  });

  it('spills only the residual from a small zone, and every distributor ends up equally loaded', () => {
    const healthy = m({ a: 1, b: 3, c: 3 });
    const plan = planZones('a', healthy, even, ZONE_AWARE_DEFAULTS);
    expect(plan.kind).toBe('spill');
    if (plan.kind !== 'spill') return;
    expect(plan.localShare).toBeCloseTo(3 / 7, 6); // (1/7) / (1/3)
    expect(plan.residual.map(([z, r]) => [z, Number(r.toFixed(6))])).toEqual([['b', Number((3 / 7 - 1 / 3).toFixed(6))], ['c', Number((3 / 7 - 1 / 3).toFixed(6))]]);
    // One gateway per zone, each sending 1 unit: load per distributor.
    const perDistributor = new Map<string, number>();
    for (const g of ['a', 'b', 'c']) {
      const p = planZones(g, healthy, even, ZONE_AWARE_DEFAULTS);
      const shares: [string, number][] = p.kind === 'local' ? [[g, 1]] : p.kind === 'spill' ? [[g, p.localShare], ...p.residual.map(([z, r]) => [z, ((1 - p.localShare) * r) / p.residual.reduce((s, [, x]) => s + x, 0)] as [string, number])] : [];
      for (const [z, share] of shares) perDistributor.set(z, (perDistributor.get(z) ?? 0) + share / healthy.get(z)!);
    }
    const loads = [...perDistributor.values()];
    expect(Math.max(...loads) / Math.min(...loads)).toBeCloseTo(1, 6);
  });

  it('balances over all below min_cluster_size, without a zone, and when the local zone has no healthy endpoint', () => {
    expect(planZones('a', m({ a: 2, b: 2, c: 1 }), even, ZONE_AWARE_DEFAULTS).kind).toBe('all');
    expect(planZones(undefined, m({ a: 3, b: 3, c: 3 }), even, ZONE_AWARE_DEFAULTS).kind).toBe('all');
    expect(planZones('a', m({ a: 0, b: 3, c: 3 }), even, ZONE_AWARE_DEFAULTS)).toMatchObject({ kind: 'all', why: 'no healthy endpoint in zone a' });
  });

  it('draws zones in those proportions, and honours routing_enabled', () => {
    const plan = planZones('a', m({ a: 1, b: 3, c: 3 }), even, ZONE_AWARE_DEFAULTS);
    const counts = new Map<string | undefined, number>();
    for (let i = 0; i < 20_000; i++) {
      const z = chooseZone(plan, ZONE_AWARE_DEFAULTS);
      counts.set(z, (counts.get(z) ?? 0) + 1);
    }
    expect(counts.get('a')! / 20_000).toBeCloseTo(3 / 7, 1);
    expect(Math.abs(counts.get('b')! - counts.get('c')!) / 20_000).toBeLessThan(0.03);
    expect(chooseZone({ kind: 'local', zone: 'a' }, { ...ZONE_AWARE_DEFAULTS, routingEnabled: 0 })).toBeUndefined();
  });
});

let servers: HttpGrpcServer[] = [];
let proxy: Proxy | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.close();
  await proxy?.close();
  for (const s of servers) s.kill();
  servers = [];
  proxy = undefined;
  client = undefined;
});

describe('zone-aware balancing against real httpgrpc servers', () => {
  it('sends only to its own zone while it is healthy, moves at once when it is gone, and comes back', async () => {
    const zones = { a: ['127.0.0.2', '127.0.0.3'], b: ['127.0.0.4', '127.0.0.5'], c: ['127.0.0.6', '127.0.0.7'] };
    const first = await HttpGrpcServer.start({ host: zones.a[0]! });
    servers = [first];
    for (const h of [...zones.a.slice(1), ...zones.b, ...zones.c]) servers.push(await HttpGrpcServer.start({ host: h, port: first.port }));
    const zoneOf = (host: string): string => Object.entries(zones).find(([, hs]) => hs.includes(host))![0];
    proxy = await startProxy(servers.map((s) => ({ ...s.endpoint, zone: zoneOf(s.host) })), { localZone: 'a' });
    await waitFor(() => readyCount(proxy!.upstream) === 6, '6 READY endpoints');
    client = new Client(proxy.url, { pipelining: 1 });
    const post = async (): Promise<number> => {
      const res = await client!.request({ path: '/api/v1/push', method: 'POST', body: 'x' });
      await res.body.dump();
      return res.statusCode;
    };
    const byZone = async (n: number): Promise<Record<string, number>> => {
      const before = servers.map((s) => s.requestCount);
      for (let i = 0; i < n; i++) expect(await post()).toBe(200);
      const out: Record<string, number> = { a: 0, b: 0, c: 0 };
      servers.forEach((s, i) => (out[zoneOf(s.host)]! += s.requestCount - before[i]!));
      return out;
    };
    expect(await byZone(60)).toEqual({ a: 60, b: 0, c: 0 });
    // The gateway's cross-zone byte counter: nothing crossed yet.
    const zoneBytes = async (): Promise<Record<string, number>> => {
      const m = await proxy!.registry.getSingleMetric('metrics_gateway_httpgrpc_zone_bytes_total')!.get();
      const out: Record<string, number> = {};
      for (const v of m.values) if (v.labels['direction'] === 'sent') out[`${v.labels['from_zone']}>${v.labels['to_zone']}:${v.labels['cross_zone']}`] = v.value;
      return out;
    };
    const local = await zoneBytes();
    expect(Object.keys(local)).toEqual(['a>a:false']);
    expect(local['a>a:false']).toBeGreaterThan(0);

    // Zone a's distributors die: the very next requests go to b and c, none fails.
    for (const s of servers.slice(0, 2)) s.kill();
    const after = await byZone(60) as { a: number; b: number; c: number };
    expect(after.b + after.c).toBe(60);
    expect(after.b).toBeGreaterThan(10);
    expect(after.c).toBeGreaterThan(10);
    const crossed = await zoneBytes();
    expect(crossed['a>b:true']).toBeGreaterThan(0);
    expect(crossed['a>c:true']).toBeGreaterThan(0);

    // They come back on the same addresses: traffic returns to zone a.
    servers[0] = await HttpGrpcServer.start({ host: zones.a[0]!, port: first.port });
    servers[1] = await HttpGrpcServer.start({ host: zones.a[1]!, port: first.port });
    await waitFor(() => readyCount(proxy!.upstream) === 6, 'zone a READY again', 15_000);
    expect(await byZone(30)).toEqual({ a: 30, b: 0, c: 0 });
  });

  it('a gateway without a zone balances over every zone', async () => {
    const first = await HttpGrpcServer.start({ host: '127.0.0.2' });
    servers = [first];
    for (const h of ['127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7']) servers.push(await HttpGrpcServer.start({ host: h, port: first.port }));
    const zoneOf = (i: number): string => ['a', 'b', 'c'][Math.floor(i / 2)]!;
    proxy = await startProxy(servers.map((s, i) => ({ ...s.endpoint, zone: zoneOf(i) })));
    await waitFor(() => readyCount(proxy!.upstream) === 6, '6 READY endpoints');
    client = new Client(proxy.url, { pipelining: 1 });
    for (let i = 0; i < 60; i++) {
      const res = await client.request({ path: '/api/v1/push', method: 'POST', body: 'x' });
      await res.body.dump();
      expect(res.statusCode).toBe(200);
    }
    // Round robin over all six: 10 each.
    expect(servers.map((s) => s.requestCount)).toEqual([10, 10, 10, 10, 10, 10]);
  });
});
