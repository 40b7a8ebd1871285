// Per-request round robin over persistent connections, endpoint changes and dead backends.
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from 'undici';
import { HttpGrpcServer, type HttpGrpcHandler } from '../examples/local/httpgrpc-server.js';
import { readyCount, startProxy, waitFor, type Proxy } from './support/httpgrpc-harness.js';

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

async function startServers(hosts: string[], handler?: HttpGrpcHandler): Promise<HttpGrpcServer[]> {
  const started = await Promise.all(hosts.map((host) => HttpGrpcServer.start({ host, ...(handler ? { handler } : {}) })));
  servers.push(...started);
  return started;
}

/** One keep-alive connection, requests one after another: what a remote-write client does. */
function client(url: string): Client {
  const c = new Client(url, { pipelining: 1 });
  clients.push(c);
  return c;
}

async function post(c: Client, path = '/api/v1/push', body = 'x'): Promise<{ status: number; body: string }> {
  const res = await c.request({ path, method: 'POST', body });
  return { status: res.statusCode, body: await res.body.text() };
}

describe('httpgrpc balancing', () => {
  it('spreads 300 requests from one keep-alive connection evenly over 3 endpoints', async () => {
    const [a, b, c] = await startServers(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    proxy = await startProxy([a!.endpoint, b!.endpoint, c!.endpoint]);
    await waitFor(() => readyCount(proxy!.upstream) === 3, '3 READY endpoints');

    const http = client(proxy.url);
    const statuses = new Map<number, number>();
    for (let i = 0; i < 300; i++) {
      const { status } = await post(http);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    expect(statuses).toEqual(new Map([[200, 300]]));
    for (const s of [a!, b!, c!]) expect(Math.abs(s.requestCount - 100)).toBeLessThanOrEqual(1);
    // One HTTP/2 connection per endpoint carried all of its requests.
    for (const s of [a!, b!, c!]) expect(new Set(s.received.map((r) => r.peer)).size).toBe(1);
  });

  it('sends traffic to an added endpoint without reconnecting the others', async () => {
    const [a, b, c, d] = await startServers(['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']);
    proxy = await startProxy([a!.endpoint, b!.endpoint, c!.endpoint]);
    await waitFor(() => readyCount(proxy!.upstream) === 3, '3 READY endpoints');
    const http = client(proxy.url);
    for (let i = 0; i < 30; i++) expect((await post(http)).status).toBe(200);
    expect(d!.requestCount).toBe(0);

    proxy.upstream.setEndpoints([a!.endpoint, b!.endpoint, c!.endpoint, d!.endpoint]);
    await waitFor(() => readyCount(proxy!.upstream) === 4, '4 READY endpoints');
    for (let i = 0; i < 40; i++) expect((await post(http)).status).toBe(200);

    expect(d!.requestCount).toBe(10);
    for (const s of [a!, b!, c!]) {
      expect(s.requestCount).toBe(20);
      expect(new Set(s.received.map((r) => r.peer)).size).toBe(1);
    }
  });

  it('stops sending to a removed endpoint and lets its in-flight request finish', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const handler: HttpGrpcHandler = async (req) => {
      if (req.url === '/slow') await released;
      return { body: `done ${req.url}` };
    };
    const trio = await startServers(['127.0.0.2', '127.0.0.3', '127.0.0.4'], handler);
    proxy = await startProxy(trio.map((s) => s.endpoint));
    await waitFor(() => readyCount(proxy!.upstream) === 3, '3 READY endpoints');

    const slow = post(client(proxy.url), '/slow');
    await waitFor(() => trio.some((s) => s.inFlight === 1), 'the slow request to arrive');
    const busy = trio.find((s) => s.inFlight === 1)!;
    const rest = trio.filter((s) => s !== busy);

    proxy.upstream.setEndpoints(rest.map((s) => s.endpoint));
    const http = client(proxy.url);
    for (let i = 0; i < 20; i++) expect((await post(http)).status).toBe(200);
    expect(busy.requestCount).toBe(1);
    expect(rest.map((s) => s.requestCount)).toEqual([10, 10]);
    expect(proxy.upstream.openConnections).toBe(3); // still draining the slow call

    release();
    expect(await slow).toEqual({ status: 200, body: 'done /slow' });
    await waitFor(() => proxy!.upstream.openConnections === 2, 'the removed endpoint to close');
  });

  it('loses no request when an endpoint is killed under load', async () => {
    const trio = await startServers(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    proxy = await startProxy(trio.map((s) => s.endpoint));
    await waitFor(() => readyCount(proxy!.upstream) === 3, '3 READY endpoints');

    // 8 keep-alive connections sending back to back; the kill lands while requests are on the wire.
    const failures: string[] = [];
    let sent = 0;
    let countAtKill = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        const http = client(proxy!.url);
        for (let i = 0; i < 40; i++) {
          if (++sent === 100) {
            trio[1]!.kill();
            countAtKill = trio[1]!.requestCount;
          }
          const { status, body } = await post(http);
          if (status !== 200) failures.push(`${status} ${body}`);
        }
      }),
    );
    expect(failures).toEqual([]);
    expect(trio[1]!.requestCount).toBe(countAtKill);
    expect(trio.reduce((n, s) => n + s.requestCount, 0)).toBe(320);
    expect(readyCount(proxy.upstream)).toBe(2);
  });

  it('waits for a CONNECTING endpoint instead of failing at once', async () => {
    const [a] = await startServers(['127.0.0.2']);
    proxy = await startProxy([]);
    proxy.upstream.setEndpoints([a!.endpoint]);
    // Sent at once: the connection is still being established.
    expect(await post(client(proxy.url))).toEqual({ status: 200, body: 'ok' });
  });

  it('answers 503 at once when no endpoint can connect', async () => {
    const [a, b] = await startServers(['127.0.0.2', '127.0.0.3']);
    const endpoints = [a!.endpoint, b!.endpoint];
    a!.kill();
    b!.kill();
    // A 10-minute request timeout: a proxy that queued the request until then would fail on the test's
    // timeout; the answer's text says it was the no-READY path (no wall-clock assertion).
    proxy = await startProxy(endpoints, { timeoutMs: 600_000 });
    await waitFor(() => proxy!.upstream.endpoints().every((e) => e.state === 'TRANSIENT_FAILURE'), 'both endpoints to fail');
    const res = await post(client(proxy.url));
    expect(res.status).toBe(503);
    expect(res.body).toMatch(/distributor \(dns:\/\/\/distributor:9095\): no READY endpoint \(0\/2 ready\)/);
  });
});
