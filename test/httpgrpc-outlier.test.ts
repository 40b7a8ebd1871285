// Outlier detection and least request in the httpgrpc proxy, against real httpgrpc servers on
// 127.0.0.2-.5 that answer 503, fail or slow down on command (their handler is swapped mid-test).
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from 'undici';
import { HttpGrpcServer, type HttpGrpcHandler } from '../examples/local/httpgrpc-server.js';
import { OUTLIER_DEFAULTS, type BalancingPolicy, type OutlierDetectionSettings } from '../core/balancing.js';
import { readyCount, startProxy, waitFor, type Proxy } from './support/httpgrpc-harness.js';
import { metricSample } from './support/control-plane.js';

let servers: HttpGrpcServer[] = [];
let proxy: Proxy | undefined;
let clients: Client[] = [];

afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await proxy?.close();
  for (const s of servers) s.kill();
  servers = [];
  clients = [];
  proxy = undefined;
});

const ok: HttpGrpcHandler = () => ({ body: 'ok' });
const sick: HttpGrpcHandler = () => ({ dskitError: { code: 503, body: 'ingester clients broken' } });
const slow = (ms: number): HttpGrpcHandler => async () => {
  await new Promise((r) => setTimeout(r, ms));
  return { body: 'late' };
};

function outlier(over: Partial<OutlierDetectionSettings> = {}): BalancingPolicy {
  return {
    loadBalancing: 'round_robin',
    outlierDetection: { ...OUTLIER_DEFAULTS, consecutive_5xx: 3, interval_ms: 200, base_ejection_time_ms: 1000, max_ejection_percent: 50, ...over },
  };
}

async function start(hosts: string[], balancing: BalancingPolicy): Promise<HttpGrpcServer[]> {
  servers = await Promise.all(hosts.map((host) => HttpGrpcServer.start({ host, handler: ok })));
  proxy = await startProxy(servers.map((s) => s.endpoint), { balancing });
  await waitFor(() => readyCount(proxy!.upstream) === hosts.length, `${hosts.length} READY endpoints`);
  return servers;
}

function client(): Client {
  const c = new Client(proxy!.url, { pipelining: 1 });
  clients.push(c);
  return c;
}

async function post(c: Client): Promise<number> {
  const res = await c.request({ path: '/api/v1/push', method: 'POST', body: 'x' });
  await res.body.dump();
  return res.statusCode;
}

/** `n` sequential requests; their statuses, counted. */
async function run(c: Client, n: number): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const s = await post(c);
    out.set(s, (out.get(s) ?? 0) + 1);
  }
  return out;
}

const ejectedState = (address: string) => proxy!.upstream.endpoints().find((e) => e.address === address)?.outlier;

describe('outlier detection against real httpgrpc servers', () => {
  it('ejects a distributor that answers 503 after consecutive_5xx, keeps its connection, and takes it back after its time', async () => {
    const [a, b, c] = await start(['127.0.0.2', '127.0.0.3', '127.0.0.4'], outlier());
    const http = client();
    expect(await run(http, 30)).toEqual(new Map([[200, 30]]));
    const peer = a!.received.at(-1)!.peer;
    a!.handler = sick;
    const statuses = await run(http, 30);
    // Exactly consecutive_5xx answers of the sick one reach the client, then it is ejected.
    expect(statuses.get(503)).toBe(3);
    const address = `${a!.host}:${a!.port}`;
    expect(ejectedState(address)).toMatchObject({ ejected: true, reason: 'consecutive_5xx', times: 1 });
    expect(metricSample(await proxy!.registry.metrics(), 'metrics_gateway_httpgrpc_outlier_ejected', { endpoint: address })).toBe(1);
    expect(metricSample(await proxy!.registry.metrics(), 'metrics_gateway_httpgrpc_outlier_ejections_total', { endpoint: address, reason: 'consecutive_5xx' })).toBe(1);
    const during = a!.requestCount;
    expect(await run(http, 40)).toEqual(new Map([[200, 40]]));
    expect(a!.requestCount).toBe(during);
    // Healed, it returns at the first sweep after base_ejection_time, on the same HTTP/2 connection.
    a!.handler = ok;
    await waitFor(() => ejectedState(address)?.ejected === false, 'the ejected endpoint to return', 10_000);
    expect(await run(http, 30)).toEqual(new Map([[200, 30]]));
    expect(a!.requestCount - during).toBeGreaterThanOrEqual(9);
    expect(a!.received.at(-1)!.peer).toBe(peer);
    expect(metricSample(await proxy!.registry.metrics(), 'metrics_gateway_httpgrpc_outlier_ejected', { endpoint: address })).toBe(0);
    for (const s of [b!, c!]) expect(s.requestCount).toBeGreaterThan(30);
  });

  it('holds max_ejection_percent: 2 of 4 sick with 25 % ejects one', async () => {
    const [a, b] = await start(['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'], outlier({ max_ejection_percent: 25, base_ejection_time_ms: 60_000 }));
    a!.handler = sick;
    b!.handler = sick;
    const http = client();
    await run(http, 60);
    const ejected = proxy!.upstream.endpoints().filter((e) => e.outlier?.ejected);
    expect(ejected).toHaveLength(1);
    // The other sick one keeps its share of what is left (1/3).
    const other = ejected[0]!.address === `${a!.host}:${a!.port}` ? b! : a!;
    const before = other.requestCount;
    const statuses = await run(http, 60);
    expect(other.requestCount - before).toBe(20);
    expect(statuses.get(503)).toBe(20);
  });

  it('keeps traffic on every distributor when all fail together (never ejects all)', async () => {
    const all = await start(['127.0.0.2', '127.0.0.3', '127.0.0.4'], outlier({ max_ejection_percent: 100, base_ejection_time_ms: 60_000 }));
    for (const s of all) s.handler = sick;
    const http = client();
    await run(http, 30);
    expect(proxy!.upstream.endpoints().every((e) => e.outlier?.ejected)).toBe(true);
    const before = all.map((s) => s.requestCount);
    const statuses = await run(http, 60);
    expect(statuses).toEqual(new Map([[503, 60]]));
    all.forEach((s, i) => expect(s.requestCount - before[i]!).toBe(20));
  });

  it('applies a policy change in place under load: no failed request, connections kept', async () => {
    const all = await start(['127.0.0.2', '127.0.0.3', '127.0.0.4'], { loadBalancing: 'round_robin' });
    const http = client();
    await run(http, 9);
    const peers = all.map((s) => s.received.at(-1)!.peer);
    let stop = false;
    const load = (async () => {
      const statuses = new Map<number, number>();
      for (let i = 0; i < 5000 && !stop; i++) {
        const s = await post(http);
        statuses.set(s, (statuses.get(s) ?? 0) + 1);
      }
      return statuses;
    })();
    for (const p of [outlier(), { loadBalancing: 'least_request' } as const, { ...outlier(), loadBalancing: 'least_request' } as const, { loadBalancing: 'round_robin' } as const]) {
      const seen = all.reduce((n, s) => n + s.requestCount, 0);
      proxy!.upstream.setBalancing(p);
      expect(proxy!.upstream.balancing).toEqual(p);
      await waitFor(() => all.reduce((n, s) => n + s.requestCount, 0) > seen + 20, 'requests under the new policy');
    }
    stop = true;
    const statuses = await load;
    expect([...statuses.keys()]).toEqual([200]);
    all.forEach((s, i) => expect(s.received.at(-1)!.peer).toBe(peers[i]));
  });
});

describe('least request against real httpgrpc servers', () => {
  it('gives a distributor that is 50 ms slower a smaller share than round robin does', async () => {
    const share = async (policy: BalancingPolicy): Promise<number> => {
      const all = await start(['127.0.0.2', '127.0.0.3', '127.0.0.4'], policy);
      all[0]!.handler = slow(50);
      for (const s of all.slice(1)) s.handler = slow(2);
      // 6 concurrent clients, 40 requests each.
      const cs = Array.from({ length: 6 }, () => client());
      const results = await Promise.all(cs.map((c) => run(c, 40)));
      for (const r of results) expect(r).toEqual(new Map([[200, 40]]));
      const total = all.reduce((n, s) => n + s.requestCount, 0);
      const out = all[0]!.requestCount / total;
      await Promise.all(clients.map((c) => c.close()));
      clients = [];
      await proxy!.close();
      proxy = undefined;
      for (const s of servers) s.kill();
      servers = [];
      return out;
    };
    const rr = await share({ loadBalancing: 'round_robin' });
    const lr = await share({ loadBalancing: 'least_request' });
    expect(rr).toBeGreaterThan(0.3);
    // Typically a quarter of round robin's share or less; on a machine whose cores are busy the fast
    // servers slow down too and the gap narrows (0.17 vs 0.33 seen), so only a clear margin is asserted.
    expect(lr).toBeLessThan(rr * 0.75);
  });
});
