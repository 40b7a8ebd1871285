// The node:http2 httpgrpc client against real gRPC servers, one rule of grpc/grpc PROTOCOL-HTTP2.md
// or RFC 9113 per test: request headers, Trailers-Only, GOAWAY, SETTINGS_MAX_CONCURRENT_STREAMS, a
// 50 MB message, TLS with ALPN h2, keepalive on a server that stops answering.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from 'undici';
import { encodeStatusWithResponse } from '../data-plane/httpgrpc/codec.js';
import { HttpGrpcServer } from '../examples/local/httpgrpc-server.js';
import { makeCerts, type TestCerts } from './support/certs.js';
import { readyCount, startProxy, waitFor, type Proxy } from './support/httpgrpc-harness.js';
import { replyOk, replyTrailersOnly, startRawGrpcServer, type RawGrpcServer } from './support/raw-grpc-server.js';
import { TcpProxy } from './support/tcp-proxy.js';

let cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function raw(host: string, onStream: (s: http2.ServerHttp2Stream, h: http2.IncomingHttpHeaders) => void, opts?: Parameters<typeof startRawGrpcServer>[2]): Promise<RawGrpcServer> {
  const s = await startRawGrpcServer(host, onStream, opts);
  cleanups.push(() => s.close());
  return s;
}

async function grpcServer(opts: Parameters<typeof HttpGrpcServer.start>[0]): Promise<HttpGrpcServer> {
  const s = await HttpGrpcServer.start(opts);
  cleanups.push(() => s.kill());
  return s;
}

async function proxyTo(endpoints: Array<{ address: string; port: number }>, opts?: Parameters<typeof startProxy>[1]): Promise<Proxy> {
  const p = await startProxy(endpoints, opts);
  cleanups.push(() => p.close());
  return p;
}

function client(url: string): Client {
  const c = new Client(url, { pipelining: 1, bodyTimeout: 0, headersTimeout: 0 });
  cleanups.push(() => c.close());
  return c;
}

async function post(c: Client, body: string | Buffer = 'x'): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const res = await c.request({ path: '/api/v1/push', method: 'POST', body });
  return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
}

describe('httpgrpc over node:http2', () => {
  it('sends the request headers PROTOCOL-HTTP2.md asks for, grpc-timeout from the budget', async () => {
    let seen: http2.IncomingHttpHeaders | undefined;
    const server = await raw('127.0.0.2', (s, h) => {
      seen = h;
      s.resume();
      s.on('end', () => replyOk(s, 'hello'));
    });
    const proxy = await proxyTo([server.endpoint], { timeoutMs: 5_000 });
    await waitFor(() => readyCount(proxy.upstream) === 1, 'READY endpoint');
    expect(await post(client(proxy.url))).toMatchObject({ status: 200, body: 'hello' });
    expect(seen).toMatchObject({ ':method': 'POST', ':path': '/httpgrpc.HTTP/Handle', ':scheme': 'http', 'content-type': 'application/grpc', te: 'trailers' });
    const timeout = /^(\d+)m$/.exec(String(seen!['grpc-timeout']));
    expect(timeout).not.toBeNull();
    expect(Number(timeout![1])).toBeGreaterThan(0);
    expect(Number(timeout![1])).toBeLessThanOrEqual(5_000);
  });

  it('reads the status of a Trailers-Only response: dskit HTTPResponse in details, percent-decoded message', async () => {
    const details = encodeStatusWithResponse({ code: 429, headers: [{ key: 'Retry-After', values: ['3'] }], body: Buffer.from('slow down') }).toString('base64');
    let next: Record<string, string> = {};
    const server = await raw('127.0.0.2', (s) => {
      s.resume();
      s.on('end', () => replyTrailersOnly(s, next));
    });
    const proxy = await proxyTo([server.endpoint]);
    await waitFor(() => readyCount(proxy.upstream) === 1, 'READY endpoint');
    const http = client(proxy.url);

    next = { 'grpc-status': '429', 'grpc-message': 'slow%20down', 'grpc-status-details-bin': details };
    expect(await post(http)).toMatchObject({ status: 429, body: 'slow down', headers: { 'retry-after': '3' } });

    next = { 'grpc-status': '14', 'grpc-message': 'ingesters%20unhealthy%3A%20%E2%9C%97 %zz' };
    const unavailable = await post(http);
    expect(unavailable.status).toBe(503);
    expect(unavailable.body).toContain('backend answered UNAVAILABLE: ingesters unhealthy: ✗ %zz');
    expect(server.streams()).toBe(2); // a status from the backend is never retried
  });

  it('GOAWAY: streams above last-stream-id go to another endpoint, the stream below it finishes', async () => {
    // The first session to A holds its streams; at the 4th it says GOAWAY naming the first one as
    // the last it will process, then answers that one. Later sessions are answered at once.
    let first: http2.Http2Session | undefined;
    const held: http2.ServerHttp2Stream[] = [];
    const a = await raw('127.0.0.2', (s) => {
      s.resume();
      first ??= s.session!;
      if (s.session !== first) return void s.on('end', () => replyOk(s, 'A2'));
      held.push(s);
      if (held.length < 4) return;
      const lowest = held.reduce((m, x) => (x.id! < m.id! ? x : m));
      first!.goaway(0, lowest.id!);
      replyOk(lowest, 'A1');
    });
    const b = await grpcServer({ host: '127.0.0.3', handler: () => ({ body: 'B' }) });
    const proxy = await proxyTo([a.endpoint, b.endpoint]);
    await waitFor(() => readyCount(proxy.upstream) === 2, '2 READY endpoints');

    const results = await Promise.all(Array.from({ length: 8 }, () => post(client(proxy.url))));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(results.filter((r) => r.body === 'A1')).toHaveLength(1);
    expect(results.filter((r) => r.body === 'B').length).toBeGreaterThanOrEqual(3 + 4 - 1);
    const errors = await proxy.registry.getSingleMetricAsString('metrics_gateway_httpgrpc_errors_total');
    expect(errors).toContain(`endpoint="127.0.0.2:${a.endpoint.port}",reason="not_sent"} 3`);
    // A replacement session was dialled at once and takes new streams.
    await waitFor(() => readyCount(proxy.upstream) === 2 && a.sessions() === 2, 'a second session to A');
  });

  it('loses no request while a grpc-js server shuts down gracefully (GOAWAY) under load', async () => {
    const trio = await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((host) => grpcServer({ host })));
    const proxy = await proxyTo(trio.map((s) => s.endpoint));
    await waitFor(() => readyCount(proxy.upstream) === 3, '3 READY endpoints');
    const failures: string[] = [];
    let sent = 0;
    let stopping: Promise<void> | undefined;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        const http = client(proxy.url);
        for (let i = 0; i < 40; i++) {
          if (++sent === 100) stopping = trio[1]!.shutdown();
          const r = await post(http);
          if (r.status !== 200) failures.push(`${r.status} ${r.body}`);
        }
      }),
    );
    await stopping;
    expect(failures).toEqual([]);
    expect(trio.reduce((n, s) => n + s.requestCount, 0)).toBe(320);
  });

  it('opens another session when one is at SETTINGS_MAX_CONCURRENT_STREAMS', async () => {
    const waiting: http2.ServerHttp2Stream[] = [];
    const server = await raw(
      '127.0.0.2',
      (s) => {
        s.resume();
        waiting.push(s);
        if (waiting.length === 5) for (const w of waiting) replyOk(w, 'ok');
      },
      { settings: { maxConcurrentStreams: 2 } },
    );
    const proxy = await proxyTo([server.endpoint]);
    await waitFor(() => readyCount(proxy.upstream) === 1, 'READY endpoint');
    // Five calls at once can only all be open (and answered) on three sessions of two streams.
    const results = await Promise.all(Array.from({ length: 5 }, () => post(client(proxy.url))));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(server.sessions()).toBe(3);
  });

  it('carries a 50 MB request and a 50 MB response', async () => {
    const server = await grpcServer({ host: '127.0.0.2', record: false, handler: (req) => ({ body: req.body }) });
    const proxy = await proxyTo([server.endpoint], { timeoutMs: 60_000 });
    await waitFor(() => readyCount(proxy.upstream) === 1, 'READY endpoint');
    const body = Buffer.alloc(50 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4096) body[i] = i % 251;
    const res = await client(proxy.url).request({ path: '/api/v1/push', method: 'POST', body });
    expect(res.statusCode).toBe(200);
    const got = Buffer.from(await res.body.arrayBuffer());
    expect(got.length).toBe(body.length);
    expect(createHash('sha256').update(got).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('speaks TLS with ALPN h2, checks the certificate against tls_server_name', async () => {
    const certs: TestCerts = makeCerts({ dns: ['distributor.test'], ips: [] });
    cleanups.push(() => certs.cleanup());
    const alpn: Array<string | false | undefined> = [];
    const server = await raw(
      '127.0.0.2',
      (s) => {
        alpn.push(s.session?.alpnProtocol);
        s.resume();
        s.on('end', () => replyOk(s, 'secure'));
      },
      { tls: { key: readFileSync(certs.keyPath), cert: readFileSync(certs.certPath) } },
    );
    const tls = { enabled: true, caPath: certs.caPath, certPath: '', keyPath: '', serverName: 'distributor.test', insecureSkipVerify: false };
    const good = await proxyTo([server.endpoint], { tls });
    await waitFor(() => readyCount(good.upstream) === 1, 'READY over TLS');
    expect(await post(client(good.url))).toMatchObject({ status: 200, body: 'secure' });
    expect(alpn).toEqual(['h2']);

    const wrongName = await proxyTo([server.endpoint], { tls: { ...tls, serverName: 'other.test' } });
    await waitFor(() => wrongName.upstream.endpoints()[0]?.state === 'TRANSIENT_FAILURE', 'the name mismatch to fail the connection');
    expect((await post(client(wrongName.url))).status).toBe(503);
    expect(alpn).toHaveLength(1);
  });

  it('closes a connection whose server stops answering keepalive PINGs, and reconnects', async () => {
    const server = await raw('127.0.0.2', (s) => s.resume()); // never answers the call
    const tcp = await TcpProxy.start('127.0.0.3', { host: '127.0.0.2', port: server.endpoint.port });
    cleanups.push(() => tcp.close());
    const proxy = await proxyTo([{ address: '127.0.0.3', port: tcp.port }], { timeoutMs: 60_000, keepaliveTimeMs: 200, keepaliveTimeoutMs: 300 });
    await waitFor(() => readyCount(proxy.upstream) === 1, 'READY endpoint');
    const pending = post(client(proxy.url));
    await waitFor(() => server.streams() === 1, 'the call to reach the server');
    tcp.freezeAll();
    const res = await pending; // only the keepalive timeout can end it: the budget is 60 s
    expect(res.status).toBe(502);
    expect(res.body).toMatch(/connection lost mid-request/);
    await waitFor(() => tcp.accepted === 2 && readyCount(proxy.upstream) === 1, 'a new connection', 10_000);
  });
});
