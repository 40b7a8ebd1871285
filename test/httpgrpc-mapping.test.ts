// HTTP ⇄ httpgrpc mapping: what goes in (url, headers, metadata, body limits) and what comes back
// (exact status, headers, body; dskit errors; timeouts; client aborts).
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Client } from 'undici';
import { encodeRequest } from '../data-plane/httpgrpc/codec.js';
import { HttpGrpcServer, headerValues, okHandler } from '../examples/local/httpgrpc-server.js';
import { readyCount, startProxy, waitFor, type Proxy } from './support/httpgrpc-harness.js';

let server: HttpGrpcServer;
let proxy: Proxy;
let http: Client;

beforeAll(async () => {
  server = await HttpGrpcServer.start({ host: '127.0.0.2' });
  proxy = await startProxy([server.endpoint], { maxMessageBytes: 1024, timeoutMs: 500 });
  await waitFor(() => readyCount(proxy.upstream) === 1, 'READY endpoint');
  http = new Client(proxy.url, { pipelining: 1 });
});
afterAll(async () => {
  await http?.close();
  await proxy?.close();
  server?.kill();
});
beforeEach(() => {
  server.handler = okHandler;
  server.received.length = 0;
  server.requestCount = 0;
});

/** Send raw bytes to the proxy, read until the server closes (the request says Connection: close). */
function rawHttp(request: string): Promise<string> {
  const { port } = new URL(proxy.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(request));
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (data += d));
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
  });
}

describe('request mapping', () => {
  it('sends X-Scope-OrgID as a header and as x-scope-orgid metadata, with dskit metadata', async () => {
    const res = await http.request({ path: '/api/v1/push', method: 'POST', body: 'hello', headers: { 'x-scope-orgid': 'tenant-1', 'content-type': 'application/x-protobuf' } });
    expect(res.statusCode).toBe(200);
    await res.body.text();
    const got = server.received[0]!;
    expect(headerValues(got, 'X-Scope-OrgID')).toEqual(['tenant-1']);
    expect(got.metadata['x-scope-orgid']).toEqual(['tenant-1']);
    expect(got.metadata['httpgrpc-method']).toEqual(['POST']);
    expect(got.metadata['httpgrpc-url']).toEqual(['/api/v1/push']);
    expect(got.metadata['message-size']).toEqual([String(got.messageBytes)]);
    expect(got.messageBytes).toBe(encodeRequest({ method: got.method, url: got.url, headers: got.headers, body: got.body }).length);
    // Go canonical keys, so Mimir's Header.Get finds them.
    expect(got.headers.map((h) => h.key)).toEqual(expect.arrayContaining(['X-Scope-Orgid', 'Content-Type', 'Content-Length']));
    expect(got.body.toString()).toBe('hello');
  });

  it('keeps the raw query, every value of repeated headers, and drops hop-by-hop fields', async () => {
    // Written by hand: HTTP clients normalise or refuse some of these on their own.
    const reply = await rawHttp(
      'GET /prometheus/api/v1/query?a=1&a=2&b=%2F HTTP/1.1\r\nHost: gw\r\nX-Multi: one\r\nX-Multi: two\r\n' +
        'Connection: close, X-Hop\r\nX-Hop: secret\r\nTE: trailers\r\nKeep-Alive: timeout=5\r\n\r\n',
    );
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    const got = server.received[0]!;
    expect(got.url).toBe('/prometheus/api/v1/query?a=1&a=2&b=%2F');
    expect(got.metadata['httpgrpc-url']).toEqual(['/prometheus/api/v1/query?a=1&a=2&b=%2F']);
    expect(got.headers.filter((h) => h.key === 'X-Multi')).toEqual([{ key: 'X-Multi', values: ['one', 'two'] }]);
    for (const hop of ['x-hop', 'te', 'connection', 'keep-alive', 'host']) expect(headerValues(got, hop)).toEqual([]);
    expect(got.body.length).toBe(0);
  });

  it('rejects two X-Scope-OrgID headers with 400', async () => {
    const res = await http.request({ path: '/api/v1/push', method: 'POST', body: 'x', headers: ['x-scope-orgid', 'a', 'x-scope-orgid', 'b'] });
    expect(res.statusCode).toBe(400);
    expect(res.headers['x-gateway-error']).toBe('GW_ERR_DUPLICATE_ORG_ID');
    await res.body.text();
    expect(server.requestCount).toBe(0);
  });

  it('answers 413 for a body over the limit by Content-Length, without contacting a backend', async () => {
    const c = new Client(proxy.url);
    try {
      const res = await c.request({ path: '/api/v1/push', method: 'POST', body: Buffer.alloc(1025) });
      expect(res.statusCode).toBe(413);
      expect(res.headers['x-gateway-error']).toBe('GW_ERR_BODY_TOO_LARGE');
      expect(await res.body.text()).toMatch(/request body exceeds 1024 bytes for distributor/);
    } finally {
      await c.close();
    }
    expect(server.requestCount).toBe(0);
  });

  it('answers 413 for a chunked body that grows over the limit, without contacting a backend', async () => {
    const c = new Client(proxy.url);
    try {
      const body = Readable.from([Buffer.alloc(600), Buffer.alloc(600)]);
      const res = await c.request({ path: '/api/v1/push', method: 'POST', body });
      expect(res.statusCode).toBe(413);
      await res.body.text();
    } finally {
      await c.close();
    }
    expect(server.requestCount).toBe(0);
  });

  it('accepts a body of exactly the limit', async () => {
    server.handler = (req) => ({ body: String(req.body.length) });
    const res = await http.request({ path: '/api/v1/push', method: 'POST', body: Buffer.alloc(1024, 7) });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('1024');
  });
});

describe('response mapping', () => {
  it('returns status, every header value and the body of a normal response', async () => {
    server.handler = () => ({ code: 202, headers: { 'Content-Type': 'text/plain', 'Set-Cookie': ['a=1', 'b=2'], 'Transfer-Encoding': 'chunked' }, body: 'accepted' });
    const res = await http.request({ path: '/x', method: 'GET' });
    expect(res.statusCode).toBe(202);
    expect(res.headers['content-type']).toBe('text/plain');
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(res.headers['content-length']).toBe('8');
    expect(res.headers['transfer-encoding']).toBeUndefined();
    expect(await res.body.text()).toBe('accepted');
  });

  it.each([413, 429, 500])('returns a dskit-style %i error exactly (code, headers, body)', async (code) => {
    server.handler = () => ({ dskitError: { code, headers: { 'Content-Type': 'application/json', 'Retry-After': '7' }, body: `{"status":"error","code":${code}}` } });
    const res = await http.request({ path: '/api/v1/push', method: 'POST', body: 'x' });
    expect(res.statusCode).toBe(code);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['retry-after']).toBe('7');
    expect(res.headers['x-gateway-error']).toBeUndefined();
    expect(await res.body.text()).toBe(`{"status":"error","code":${code}}`);
  });

  it('answers 504 when the backend does not answer within the timeout', async () => {
    server.handler = async (_req, { signal }) => {
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
      return { body: 'late' };
    };
    const res = await http.request({ path: '/slow', method: 'GET' });
    expect(res.statusCode).toBe(504);
    expect(res.headers['x-gateway-error']).toBe('GW_ERR_UPSTREAM_TIMEOUT');
    expect(await res.body.text()).toMatch(/^distributor \(dns:\/\/\/distributor:9095\) endpoint 127\.0\.0\.2:\d+: Deadline exceeded/);
  });

  it('cancels the gRPC call when the HTTP client goes away', async () => {
    let cancelled = false;
    server.handler = async (_req, { signal }) => {
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
      cancelled = true;
      return { body: 'unused' };
    };
    // A long deadline, so only the client going away can end the call.
    const patient = await startProxy([server.endpoint], { timeoutMs: 60_000 });
    await waitFor(() => readyCount(patient.upstream) === 1, 'the endpoint to be ready');
    const c = new Client(patient.url);
    try {
      const ac = new AbortController();
      const pending = c.request({ path: '/slow', method: 'GET', signal: ac.signal }).catch((e: unknown) => e);
      await waitFor(() => server.inFlight === 1, 'the call to reach the backend');
      ac.abort();
      await pending;
      await waitFor(() => cancelled, 'the backend to see the cancellation', 10_000);
      await waitFor(() => server.inFlight === 0, 'the handler to finish');
    } finally {
      await c.close();
      await patient.close();
    }
  });
});
