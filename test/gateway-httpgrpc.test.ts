import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, request } from 'undici';
import { startDistributors, type Distributors } from './support/distributors.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { waitFor } from './support/httpgrpc-harness.js';
import { headerValues } from '../examples/local/httpgrpc-server.js';

// The gateway end to end for dns:// backends: real DNS over UDP, real httpgrpc gRPC servers on
// 127.0.0.2-.5, one HTTP client on a single keep-alive connection.
describe('dns:// backend through the gateway', () => {
  let cluster: Distributors;
  let gw: RunningGateway;
  let client: Client;

  beforeAll(async () => {
    cluster = await startDistributors(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    gw = await startGateway([`-gateway.proxy.distributor.url=${cluster.url}`, '-control-plane.dns.lookup-period=1s']);
    client = new Client(gw.url, { pipelining: 1, connections: 1 } as ConstructorParameters<typeof Client>[1]);
  });
  afterAll(async () => {
    await client?.close();
    await gw?.stop();
    await cluster?.close();
  });

  async function push(headers: Record<string, string> = {}, path = '/api/v1/push'): Promise<number> {
    const res = await client.request({ path, method: 'POST', body: 'payload', headers: { 'x-scope-orgid': 'tenant-1', ...headers } });
    await res.body.dump();
    return res.statusCode;
  }

  it('spreads 300 pushes from one keep-alive connection evenly over three distributors', async () => {
    // Warm up until all three have answered once (connections are made eagerly, answers come fast).
    for (let i = 0; i < 100 && !cluster.servers.every((s) => s.requestCount > 0); i++) await push();
    const before = cluster.servers.map((s) => s.requestCount);
    for (let i = 0; i < 300; i++) expect(await push()).toBe(200);
    const got = cluster.servers.map((s, i) => s.requestCount - before[i]!);
    for (const n of got) expect(Math.abs(n - 100)).toBeLessThanOrEqual(1);
  });

  it('passes X-Scope-OrgID as header and metadata, multi-value headers and the raw query', async () => {
    const s = cluster.servers[0]!;
    s.received.length = 0;
    for (let i = 0; i < 3; i++) {
      const res = await client.request({
        path: '/api/v1/push?a=1&a=2&b=%2F',
        method: 'POST',
        body: 'x',
        headers: ['X-Scope-OrgID', 'team-a', 'X-Multi', 'one', 'X-Multi', 'two'],
      });
      await res.body.dump();
    }
    const r = s.received.at(-1)!;
    expect(r.url).toBe('/api/v1/push?a=1&a=2&b=%2F');
    expect(headerValues(r, 'x-scope-orgid')).toEqual(['team-a']);
    expect(r.metadata['x-scope-orgid']).toEqual(['team-a']);
    expect(headerValues(r, 'x-multi')).toEqual(['one', 'two']);
  });

  it('sends traffic to a fourth DNS record within one lookup period', async () => {
    const fourth = await cluster.add('127.0.0.5');
    const deadline = Date.now() + 30_000; // lookup period 1 s, TTL 1 s, plus connect; generous for a busy machine
    while (fourth.requestCount === 0 && Date.now() < deadline) await push();
    expect(fourth.requestCount).toBeGreaterThan(0);
  });

  it('stops sending to a record that disappears', async () => {
    const gone = cluster.servers[0]!;
    cluster.publish(cluster.servers.slice(1).map((s) => s.host));
    // Poll: once the gateway has applied the new set, 20 pushes in a row miss the removed server.
    const deadline = Date.now() + 30_000;
    let streak = 0;
    while (streak < 20 && Date.now() < deadline) {
      const before = gone.requestCount;
      await push();
      streak = gone.requestCount === before ? streak + 1 : 0;
    }
    expect(streak).toBe(20);
    cluster.publish(cluster.servers.map((s) => s.host));
  });

  it('returns a dskit-style error response exactly', async () => {
    for (const s of cluster.servers) {
      s.handler = () => ({ dskitError: { code: 429, headers: { 'Retry-After': '7' }, body: 'per-tenant ingestion rate limit exceeded\n' } });
    }
    try {
      const res = await request(`${gw.url}/api/v1/push`, { method: 'POST', body: 'x' });
      expect(res.statusCode).toBe(429);
      expect(res.headers['retry-after']).toBe('7');
      expect(await res.body.text()).toBe('per-tenant ingestion rate limit exceeded\n');
    } finally {
      for (const s of cluster.servers) s.handler = () => ({ code: 200, body: 'ok' });
    }
  });

  it('shows per-endpoint request counts in /metrics', async () => {
    const text = await (await request(`${gw.url}/metrics`)).body.text();
    expect(text).toMatch(/metrics_gateway_httpgrpc_requests_total\{[^}]*endpoint="127\.0\.0\.3:\d+"[^}]*\} [1-9]/);
    expect(text).toMatch(/control_plane_dns_lookups_total\{[^}]*outcome="ok"[^}]*\} [1-9]/);
  });
});
