// Retry only what never reached a backend: refused streams move to the next endpoint, a call the
// backend may have processed is never sent twice.
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from 'undici';
import { status } from '@grpc/grpc-js';
import { HttpGrpcServer } from '../examples/local/httpgrpc-server.js';
import { readyCount, startProxy, waitFor, type Proxy } from './support/httpgrpc-harness.js';

let servers: HttpGrpcServer[] = [];
let raw: http2.Http2Server[] = [];
let proxy: Proxy | undefined;
let clients: Client[] = [];

afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await proxy?.close();
  for (const s of servers) s.kill();
  for (const r of raw) r.close();
  servers = [];
  raw = [];
  clients = [];
  proxy = undefined;
});

/**
 * A real HTTP/2 server (so the gRPC channel gets READY) that treats every stream with `onStream`.
 * Counts streams, i.e. how many times a call reached it.
 */
async function rawHttp2(host: string, onStream: (s: http2.ServerHttp2Stream) => void): Promise<{ endpoint: { address: string; port: number }; streams: () => number }> {
  let streams = 0;
  const server = http2.createServer();
  server.on('stream', (s) => {
    streams++;
    s.on('error', () => {}); // closing with an error code emits one on our own side
    onStream(s);
  });
  raw.push(server);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { endpoint: { address: host, port: (server.address() as AddressInfo).port }, streams: () => streams };
}

async function post(c: Client, body = 'x'): Promise<{ status: number; body: string }> {
  const res = await c.request({ path: '/api/v1/push', method: 'POST', body });
  return { status: res.statusCode, body: await res.body.text() };
}

function client(url: string): Client {
  const c = new Client(url, { pipelining: 1 });
  clients.push(c);
  return c;
}

describe('httpgrpc retries', () => {
  it('moves a refused call (RST_STREAM REFUSED_STREAM) to the next endpoint', async () => {
    // RFC 9113 8.7: REFUSED_STREAM means the stream was not processed at all.
    const refuser = await rawHttp2('127.0.0.2', (s) => s.close(http2.constants.NGHTTP2_REFUSED_STREAM));
    const good = await HttpGrpcServer.start({ host: '127.0.0.3' });
    servers.push(good);
    proxy = await startProxy([refuser.endpoint, good.endpoint]);
    await waitFor(() => readyCount(proxy!.upstream) === 2, '2 READY endpoints');

    const http = client(proxy.url);
    for (let i = 0; i < 10; i++) expect(await post(http)).toEqual({ status: 200, body: 'ok' });
    expect(good.requestCount).toBe(10);
    // The retry moves the shared cursor on, so every request is first picked for the refuser, once,
    // then the proxy sends it to the good endpoint (no second try on the endpoint that refused).
    expect(refuser.streams()).toBe(10);
    const errors = await proxy.registry.getSingleMetricAsString('metrics_gateway_httpgrpc_errors_total');
    expect(errors).toContain(`endpoint="127.0.0.2:${refuser.endpoint.port}",reason="not_sent"} 10`);
  });

  it('answers 503 after 3 tries when every endpoint refuses', async () => {
    const refusers = await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'].map((h) => rawHttp2(h, (s) => s.close(http2.constants.NGHTTP2_REFUSED_STREAM))));
    proxy = await startProxy(refusers.map((r) => r.endpoint));
    await waitFor(() => readyCount(proxy!.upstream) === 4, '4 READY endpoints');
    const res = await post(client(proxy.url));
    expect(res.status).toBe(503);
    expect(res.body).toMatch(/^distributor \(dns:\/\/\/distributor:9095\): no endpoint took the request after 3 tries; last try 127\.0\.0\.\d:\d+: Stream refused by server\n$/);
    expect(refusers.map((r) => r.streams()).reduce((a, b) => a + b)).toBe(3); // 3 tries, one stream each
  });

  it('never resends a call whose connection dropped after the backend read it', async () => {
    // Reads the whole request, then the connection dies: the backend may have acted on it.
    const dropper = await rawHttp2('127.0.0.2', (s) => {
      s.resume();
      s.on('end', () => s.session?.destroy());
    });
    const good = await HttpGrpcServer.start({ host: '127.0.0.3' });
    servers.push(good);
    proxy = await startProxy([dropper.endpoint, good.endpoint]);
    await waitFor(() => readyCount(proxy!.upstream) === 2, '2 READY endpoints');

    const res = await post(client(proxy.url)); // the picker starts with the first endpoint
    expect(res.status).toBe(502);
    expect(res.body).toMatch(/endpoint 127\.0\.0\.2:\d+: connection lost mid-request \(Connection dropped\); not retried/);
    expect(dropper.streams()).toBe(1);
    expect(good.requestCount).toBe(0);
  });

  it('does not retry a backend that answered UNAVAILABLE itself', async () => {
    const trio = await Promise.all(
      ['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((host) =>
        HttpGrpcServer.start({ host, handler: () => ({ grpcError: { code: status.UNAVAILABLE, details: 'ingesters unhealthy' } }) }),
      ),
    );
    servers.push(...trio);
    proxy = await startProxy(trio.map((s) => s.endpoint));
    await waitFor(() => readyCount(proxy!.upstream) === 3, '3 READY endpoints');
    const res = await post(client(proxy.url));
    expect(res.status).toBe(503);
    expect(res.body).toMatch(/backend answered UNAVAILABLE: ingesters unhealthy/);
    expect(trio.reduce((n, s) => n + s.requestCount, 0)).toBe(1);
  });
});
