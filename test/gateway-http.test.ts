import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { Readable } from 'node:stream';
import { Client, request } from 'undici';
import { HttpBackend } from './support/http-backend.js';
import { startGateway, type RunningGateway } from './support/gateway.js';

// One real HTTP server per backend, each on its own loopback "host".
const NAMES = ['admin_api', 'alertmanager', 'compactor', 'distributor', 'graphite', 'ingester', 'query_frontend', 'ruler', 'store_gateway', 'default'] as const;

describe('routing to http backends', () => {
  const backends = new Map<string, HttpBackend>();
  let gw: RunningGateway;
  let client: Client;

  beforeAll(async () => {
    let host = 2;
    for (const name of NAMES) backends.set(name, await HttpBackend.start(name, `127.0.0.${host++}`));
    gw = await startGateway(NAMES.map((n) => `-gateway.proxy.${n.replaceAll('_', '-')}.url=${backends.get(n)!.url}`));
    client = new Client(gw.url);
  });
  afterAll(async () => {
    await client?.close();
    await gw?.stop();
    await Promise.all([...backends.values()].map((b) => b.close()));
  });

  const cases: Array<[string, string]> = [
    ['/api/v1/push', 'distributor'],
    ['/api/v1/push/influx/write', 'distributor'],
    ['/distributor/all_user_stats', 'distributor'],
    ['/otlp/v1/metrics', 'distributor'],
    ['/alertmanager/api/v2/status', 'alertmanager'],
    ['/multitenant_alertmanager/status', 'alertmanager'],
    ['/api/v1/alerts', 'alertmanager'],
    ['/prometheus/config/v1/rules/ns', 'ruler'],
    ['/prometheus/api/v1/rules', 'ruler'],
    ['/prometheus/api/v1/alerts', 'ruler'],
    ['/ruler/ring', 'ruler'],
    ['/prometheus/api/v1/query?query=up', 'query_frontend'],
    ['/prometheus/api/v1/series', 'query_frontend'],
    ['/api/v1/status/buildinfo', 'query_frontend'],
    ['/api/v1/upload/block/01H/files', 'compactor'],
    ['/compactor/ring', 'compactor'],
    ['/ingester/ring', 'ingester'],
    ['/store-gateway/tenants', 'store_gateway'],
    ['/admin/api/v3/tenants', 'admin_api'],
    ['/graphite/render', 'graphite'],
    ['/api/v1/status/config', 'default'],
    ['/', 'default'],
    // Exact matches are exact: a longer path falls through to the prefixes.
    ['/api/v1/pushx', 'default'],
    // Path tricks route as the normalised path would.
    ['/prometheus/../api/v1/push', 'distributor'],
    ['/prometheus/%2e%2e/api/v1/push', 'distributor'],
    ['//api/v1/push', 'distributor'],
  ];

  it.each(cases)('%s → %s', async (path, backend) => {
    // A Client sends `path` as given; request(url) would normalise `..` itself.
    const res = await client.request({ path, method: 'POST', body: 'x' });
    expect(res.statusCode).toBe(200);
    const body = (await res.body.json()) as { backend: string; url: string };
    expect(body.backend).toBe(backend);
    // Method, path and raw query reach the backend byte for byte.
    expect(body.url).toBe(path);
  });

  it('passes the raw query and method unchanged', async () => {
    const res = await request(`${gw.url}/prometheus/api/v1/query?query=sum%28up%29&a=1&a=2&x=%2F`, { method: 'GET' });
    const body = (await res.body.json()) as { url: string; method: string };
    expect(body.url).toBe('/prometheus/api/v1/query?query=sum%28up%29&a=1&a=2&x=%2F');
    expect(body.method).toBe('GET');
  });

  it('answers its own endpoints instead of proxying them', async () => {
    const ready = await request(`${gw.url}/ready`);
    expect(ready.statusCode).toBe(200);
    expect(await ready.body.text()).toBe('ready\n');
    const config = await request(`${gw.url}/config`);
    const yaml = await config.body.text();
    expect(yaml).toContain('distributor:');
    expect(yaml).toContain(backends.get('distributor')!.url);
    expect(yaml).toContain('timeout: 5m');
  });

  it('rejects invalid percent-encoding with 400', async () => {
    const res = await request(`${gw.url}/prometheus/%zz`);
    expect(res.statusCode).toBe(400);
    expect(await res.body.text()).toMatch(/percent-encoding/);
  });
});

describe('proxy behaviour', () => {
  let backend: HttpBackend;
  let gw: RunningGateway;

  beforeAll(async () => {
    backend = await HttpBackend.start('qf', '127.0.0.2');
    gw = await startGateway([`-gateway.proxy.default.url=${backend.url}`, '-server.http-max-request-body-bytes=1048576']);
  });
  afterAll(async () => {
    await gw?.stop();
    await backend?.close();
  });

  it('uses default for every backend without a url', async () => {
    const res = await request(`${gw.url}/api/v1/push`, { method: 'POST', body: 'x' });
    expect(res.headers['x-backend']).toBe('qf');
    await res.body.dump();
  });

  it('removes hop-by-hop headers and sets X-Forwarded-*', async () => {
    backend.received.length = 0;
    const res = await rawRequest(
      gw.port,
      'GET /prometheus/api/v1/labels HTTP/1.1\r\nHost: metrics.example\r\n' +
        'Connection: close, x-private-hop\r\nX-Private-Hop: secret\r\nKeep-Alive: timeout=5\r\n' +
        'Proxy-Authorization: Basic Zm9vOmJhcg==\r\nTE: trailers\r\nX-End-To-End: kept\r\n' +
        'X-Forwarded-For: 203.0.113.9\r\n\r\n',
    );
    expect(res).toMatch(/^HTTP\/1\.1 200/);
    const got = backend.received.at(-1)!.headers;
    expect(got['x-private-hop']).toBeUndefined();
    expect(got['keep-alive']).toBeUndefined();
    expect(got['proxy-authorization']).toBeUndefined();
    expect(got['te']).toBeUndefined();
    expect(got['x-end-to-end']).toBe('kept');
    expect(got['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(got['x-forwarded-proto']).toBe('http');
    expect(got['x-forwarded-host']).toBe('metrics.example');
    expect(got['host']).toBe('metrics.example');
  });

  it('removes hop-by-hop headers from the response', async () => {
    backend.setHandler((_req, res) => {
      res.setHeader('connection', 'x-upstream-hop');
      res.setHeader('x-upstream-hop', '1');
      res.setHeader('x-kept', '1');
      res.end('ok');
    });
    try {
      const res = await request(`${gw.url}/prometheus/api/v1/labels`);
      expect(res.headers['x-upstream-hop']).toBeUndefined();
      expect(res.headers['x-kept']).toBe('1');
      await res.body.dump();
    } finally {
      backend.setHandler(undefined);
    }
  });

  it('answers 400 to more than one X-Scope-OrgID header, without contacting the backend', async () => {
    const before = backend.received.length;
    const res = await rawRequest(gw.port, 'GET /prometheus/api/v1/labels HTTP/1.1\r\nHost: x\r\nX-Scope-OrgID: a\r\nX-Scope-OrgID: b\r\nConnection: close\r\n\r\n');
    expect(res).toMatch(/^HTTP\/1\.1 400/);
    expect(res).toContain('more than one X-Scope-OrgID header');
    expect(backend.received.length).toBe(before);
  });

  it('answers 413 above the body limit, by Content-Length and by counting a chunked body', async () => {
    const big = Buffer.alloc(1024 * 1024 + 1, 1);
    const res = await request(`${gw.url}/api/v1/push`, { method: 'POST', body: big });
    expect(res.statusCode).toBe(413);
    expect(await res.body.text()).toMatch(/exceeds 1048576 bytes/);

    async function* chunks(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 20; i++) yield Buffer.alloc(64 * 1024, 2);
    }
    const res2 = await request(`${gw.url}/api/v1/push`, { method: 'POST', body: Readable.from(chunks()) });
    expect(res2.statusCode).toBe(413);
    await res2.body.dump();
  });
});

describe('upstream failures', () => {
  let gw: RunningGateway;
  let slow: HttpBackend;
  let reset: net.Server;
  let refusedPort: number;

  beforeAll(async () => {
    slow = await HttpBackend.start('slow', '127.0.0.3', () => undefined /* never answers */);
    reset = net.createServer((s) => s.once('data', () => s.resetAndDestroy()));
    await new Promise<void>((r) => reset.listen(0, '127.0.0.4', r));
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.5', r));
    refusedPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    gw = await startGateway([
      `-gateway.proxy.query-frontend.url=${slow.url}`,
      '-gateway.proxy.query-frontend.timeout=300ms',
      `-gateway.proxy.ruler.url=http://127.0.0.4:${(reset.address() as net.AddressInfo).port}`,
      `-gateway.proxy.distributor.url=http://127.0.0.5:${refusedPort}`,
    ]);
  });
  afterAll(async () => {
    await gw?.stop();
    await slow?.close();
    await new Promise<void>((r) => reset.close(() => r()));
  });

  it('maps a refused connection to 502 naming the backend', async () => {
    const res = await request(`${gw.url}/api/v1/push`, { method: 'POST', body: 'x' });
    expect(res.statusCode).toBe(502);
    expect(await res.body.text()).toBe(`backend distributor (http://127.0.0.5:${refusedPort}): connection refused\n`);
  });

  it('maps a reset connection to 502', async () => {
    const res = await request(`${gw.url}/ruler/ring`);
    expect(res.statusCode).toBe(502);
    expect(await res.body.text()).toMatch(/^backend ruler .*connection reset\n$/);
  });

  it('maps a backend timeout to 504', async () => {
    const res = await request(`${gw.url}/prometheus/api/v1/query`);
    expect(res.statusCode).toBe(504);
    expect(await res.body.text()).toMatch(/^backend query_frontend .*no answer within 0.3s\n$/);
  });

  it('answers 503 naming the fields to set when a backend has no url and there is no default', async () => {
    const res = await request(`${gw.url}/graphite/render`);
    expect(res.statusCode).toBe(503);
    expect(await res.body.text()).toBe(
      'no backend configured for "graphite": set gateway.proxy.graphite.url (-gateway.proxy.graphite.url) or gateway.proxy.default.url (-gateway.proxy.default.url)\n',
    );
  });

  it('counts upstream errors and request durations in /metrics', async () => {
    const res = await request(`${gw.url}/metrics`);
    const text = await res.body.text();
    expect(text).toMatch(/metrics_gateway_upstream_errors_total\{backend="distributor",reason="refused"\} [1-9]/);
    expect(text).toMatch(/metrics_gateway_request_duration_seconds_count\{backend="distributor",route="exact:\/api\/v1\/push",method="POST",status_code="502"\} [1-9]/);
    expect(text).toContain('process_resident_memory_bytes');
  });
});

function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    let out = '';
    s.on('data', (d) => (out += d.toString()));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}
