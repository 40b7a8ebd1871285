// The socket HTTP/2 client (and, for one release, the node:http2 one) against real gRPC servers of the
// three stacks: grpc-go (what Mimir's distributors are), C-core and grpc-js. Their HPACK encoders use
// the dynamic table and Huffman strings, their flow control and GOAWAY are their own; MaxConnectionAge
// (mimir-distributed sets grpc_server_max_connection_age) must cost no request under steady load.
import { createHash } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client } from 'undici';
import { buildGo } from '../bench/lib/go-build.js';
import type { HttpGrpcClientKind } from '../data-plane/httpgrpc/index.js';
import { startPeer, type GrpcPeer, type PeerOptions, type PeerStack } from './support/grpc-peers.js';
import { readyCount, startProxy, waitFor, type Proxy } from './support/httpgrpc-harness.js';
import { TcpProxy } from './support/tcp-proxy.js';

let cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

beforeAll(async () => {
  await buildGo('grpc-go-server'); // once, cached across runs (bench/lib/go-build.ts)
}, 300_000);

async function peers(stack: PeerStack, hosts: string[], opts?: PeerOptions): Promise<GrpcPeer[]> {
  const started = await Promise.all(hosts.map((h) => startPeer(stack, h, opts)));
  for (const p of started) cleanups.push(() => p.close());
  return started;
}

async function proxyTo(endpoints: Array<{ address: string; port: number }>, client: HttpGrpcClientKind, timeoutMs = 10_000): Promise<Proxy> {
  const p = await startProxy(endpoints, { client, timeoutMs });
  cleanups.push(() => p.close());
  await waitFor(() => readyCount(p.upstream) === endpoints.length, `${endpoints.length} READY endpoints`, 20_000);
  return p;
}

function client(url: string): Client {
  const c = new Client(url, { pipelining: 1, bodyTimeout: 0, headersTimeout: 0 });
  cleanups.push(() => c.close());
  return c;
}

const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const STACKS: PeerStack[] = ['grpc-go', 'c-core', 'grpc-js'];
const CLIENTS: HttpGrpcClientKind[] = ['socket', 'node-http2'];

describe.each(STACKS)('httpgrpc against a %s server', (stack) => {
  it.each(CLIENTS)('%s client: 300 pushes over 3 servers on kept connections, each answered by the right stack', async (kind) => {
    const servers = await peers(stack, HOSTS);
    const proxy = await proxyTo(servers.map((s) => s.endpoint), kind);
    const bodies = new Map<string, number>();
    await Promise.all(
      Array.from({ length: 6 }, async (_, c) => {
        const http = client(proxy.url);
        for (let i = 0; i < 50; i++) {
          const res = await http.request({ path: `/api/v1/push?c=${c}&i=${i}`, method: 'POST', body: 'x'.repeat(100 + i), headers: { 'x-scope-orgid': `tenant-${i % 3}` } });
          const text = await res.body.text();
          expect(res.statusCode).toBe(200);
          expect(res.headers['x-peer']).toBe(stack);
          expect(text).toBe(`${stack} /api/v1/push?c=${c}&i=${i} ${100 + i}`);
          bodies.set(text, (bodies.get(text) ?? 0) + 1);
        }
      }),
    );
    expect(bodies.size).toBe(300);
  });

  it('socket client: a 20 MiB body both ways arrives intact (flow control both ways)', async () => {
    const [server] = await peers(stack, ['127.0.0.2']);
    const proxy = await proxyTo([server!.endpoint], 'socket', 60_000);
    const body = Buffer.alloc(20 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 997) body[i] = i % 253;
    const res = await client(proxy.url).request({ path: '/echo', method: 'POST', body });
    expect(res.statusCode).toBe(200);
    const got = Buffer.from(await res.body.arrayBuffer());
    expect(got.length).toBe(body.length);
    expect(createHash('sha256').update(got).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
  });
});

describe.each(['grpc-go', 'c-core'] as const)('MaxConnectionAge on a %s server', (stack) => {
  it('socket client: GOAWAY every 300 ms under steady load fails no request', async () => {
    const servers = await peers(stack, HOSTS, { maxConnectionAgeMs: 300 });
    // TCP forwarders in front count the connections: each GOAWAY makes the client dial a new one.
    const fronts = await Promise.all(servers.map((s, i) => TcpProxy.start(`127.0.0.${5 + i}`, { host: s.endpoint.address, port: s.endpoint.port })));
    for (const f of fronts) cleanups.push(() => f.close());
    const proxy = await proxyTo(fronts.map((f) => ({ address: f.host, port: f.port })), 'socket');
    const failures: string[] = [];
    let ok = 0;
    const until = Date.now() + 3_000;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        const http = client(proxy.url);
        // Bounded in count and time: at most 400 requests per client, or 3 s.
        for (let i = 0; i < 400 && Date.now() < until; i++) {
          const res = await http.request({ path: '/api/v1/push', method: 'POST', body: 'x'.repeat(8192) });
          const text = await res.body.text();
          if (res.statusCode === 200) ok++;
          else failures.push(`${res.statusCode} ${text}`);
        }
      }),
    );
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(0);
    // The servers did rotate connections while the load ran (3 s / 300 ms per connection).
    expect(fronts.reduce((n, f) => n + f.accepted, 0)).toBeGreaterThan(2 * fronts.length);
  });
});
