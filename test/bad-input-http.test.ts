import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { BACKEND_NAMES } from '../core/model.js';
import { FaultBackend, PARTIAL_BYTES } from './support/fault-backend.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { parseResponse, rawExchange, type RawExchange } from './support/raw-http.js';

// Requests a well-behaved client never sends, on raw sockets so nothing normalises them first.
// Each case checks the exact answer, that no backend saw the request (or only an abandoned one),
// and that the gateway still serves a normal request afterwards.

const LIMIT = 65536;

describe('bad HTTP input', () => {
  const backends = new Map<string, FaultBackend>();
  let gw: RunningGateway;

  beforeAll(async () => {
    let host = 2;
    for (const name of BACKEND_NAMES) backends.set(name, await FaultBackend.start(name, `127.0.0.${host++}`));
    gw = await startGateway([
      ...BACKEND_NAMES.map((n) => `-gateway.proxy.${n.replaceAll('_', '-')}.url=${backends.get(n)!.url}`),
      `-server.http-max-request-body-bytes=${LIMIT}`,
      '-server.http-read-header-timeout=500ms',
    ]);
  });
  afterAll(async () => {
    await gw?.stop();
    await Promise.all([...backends.values()].map((b) => b.close()));
  });

  const started = (): number => [...backends.values()].reduce((n, b) => n + b.started.length, 0);

  async function expectStillServes(): Promise<void> {
    const res = await request(`${gw.url}/prometheus/api/v1/query?query=up`);
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toMatchObject({ backend: 'query_frontend', url: '/prometheus/api/v1/query?query=up' });
  }

  /** The one answer on the exchange is the gateway's own (status, stable code, one-line body), and the connection ended. */
  function expectGatewayAnswer(ex: RawExchange, status: number, code: string, body: string): void {
    const res = parseResponse(ex.text);
    expect(res.status).toBe(status);
    expect(res.headers['x-gateway-error']).toBe(code);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.body).toBe(`${body}\n`);
    expect(res.rest).toBe(''); // nothing after it: a pipelined request behind it was not run
    expect(ex.ended).not.toBe('timeout');
  }

  describe('framing the parser refuses (request smuggling)', () => {
    // Each is followed on the same connection by a request that must never run: a proxy that read
    // the framing differently from its backend would pass it on as a second, smuggled request.
    const smuggled = 'GET /api/v1/push?smuggled=1 HTTP/1.1\r\nHost: gw\r\n\r\n';
    const cases: Array<[string, string, string]> = [
      [
        'Content-Length and Transfer-Encoding',
        'POST /api/v1/push HTTP/1.1\r\nHost: gw\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG',
        "Transfer-Encoding can't be present with Content-Length (HPE_INVALID_TRANSFER_ENCODING)",
      ],
      [
        'Transfer-Encoding and Content-Length',
        'POST /api/v1/push HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nG',
        "Content-Length can't be present with Transfer-Encoding (HPE_INVALID_CONTENT_LENGTH)",
      ],
      [
        'two different Content-Length',
        'POST /api/v1/push HTTP/1.1\r\nHost: gw\r\nContent-Length: 1\r\nContent-Length: 5\r\n\r\nhello',
        'Duplicate Content-Length (HPE_UNEXPECTED_CONTENT_LENGTH)',
      ],
      [
        // RFC 9112 6.3 allows either accepting identical repeats or refusing them; Node refuses.
        'two equal Content-Length',
        'POST /api/v1/push HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello',
        'Duplicate Content-Length (HPE_UNEXPECTED_CONTENT_LENGTH)',
      ],
      [
        'a Content-Length list',
        'POST /api/v1/push HTTP/1.1\r\nHost: gw\r\nContent-Length: 5, 5\r\n\r\nhello',
        'Invalid character in Content-Length (HPE_INVALID_CONTENT_LENGTH)',
      ],
      [
        'a Content-Length beyond 2^64',
        'POST /api/v1/push HTTP/1.1\r\nHost: gw\r\nContent-Length: 99999999999999999999999\r\n\r\nhello',
        'Content-Length overflow (HPE_INVALID_CONTENT_LENGTH)',
      ],
      [
        'Transfer-Encoding that does not end in chunked',
        'POST /api/v1/push HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n',
        'Invalid `Transfer-Encoding` header value (HPE_INVALID_TRANSFER_ENCODING)',
      ],
      [
        'Transfer-Encoding twice',
        'POST /api/v1/push HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        'Invalid `Transfer-Encoding` header value (HPE_INVALID_TRANSFER_ENCODING)',
      ],
      [
        'an unknown transfer coding',
        'POST /api/v1/push HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n',
        'Request has invalid `Transfer-Encoding` (HPE_INVALID_TRANSFER_ENCODING)',
      ],
      [
        'whitespace before the colon',
        'POST /api/v1/push HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n',
        'Invalid header field char (HPE_INVALID_HEADER_TOKEN)',
      ],
      [
        'an obs-fold continuation line',
        'GET /api/v1/push HTTP/1.1\r\nHost: gw\r\nX-Scope-OrgID: a\r\n b\r\n\r\n',
        'Unexpected whitespace after header value (HPE_INVALID_HEADER_TOKEN)',
      ],
      ['bare LF line ends', 'GET /api/v1/push HTTP/1.1\nHost: gw\n\n', 'Expected CRLF after version (HPE_INVALID_VERSION)'],
      ['a NUL in a header value', 'GET /api/v1/push HTTP/1.1\r\nHost: gw\r\nX-A: a\u0000b\r\n\r\n', 'Invalid header value char (HPE_INVALID_HEADER_TOKEN)'],
      ['a space in the request target', 'GET /api/v1/push x HTTP/1.1\r\nHost: gw\r\n\r\n', 'Expected HTTP/, RTSP/ or ICE/ (HPE_INVALID_CONSTANT)'],
    ];

    it.each(cases)('%s: 400, the connection closed, nothing reaches a backend', async (_name, bad, reason) => {
      const before = started();
      const ex = await rawExchange(gw.port, bad + smuggled);
      expectGatewayAnswer(ex, 400, 'GW_ERR_BAD_REQUEST', `malformed HTTP request: ${reason}`);
      expect(started()).toBe(before);
      await expectStillServes();
    });

    it('a bad chunk in a body already being proxied: 400, and the backend request is abandoned, not completed', async () => {
      const dist = backends.get('distributor')!;
      const ex = await rawExchange(
        gw.port,
        ['POST /api/v1/push?bad-chunk=1 HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', 'zz\r\nhello\r\n0\r\n\r\n'],
        { nextWhen: () => dist.started.includes('/api/v1/push?bad-chunk=1') },
      );
      expectGatewayAnswer(ex, 400, 'GW_ERR_BAD_REQUEST', 'malformed HTTP request: Invalid character in chunk size (HPE_INVALID_CHUNK_SIZE)');
      expect(dist.started).toContain('/api/v1/push?bad-chunk=1');
      await expect.poll(() => dist.abandoned).toContain('/api/v1/push?bad-chunk=1');
      await expectStillServes();
    });

    it('garbage pipelined behind a streaming response does not get written into it', async () => {
      // The backend sends 64 KiB of a 1 MiB body and stalls. Fastify's default clientError handler
      // wrote its 400 into that body; the gateway must only close the connection.
      const ex = await rawExchange(gw.port, ['GET /compactor/stall-body HTTP/1.1\r\nHost: gw\r\n\r\n', 'NOT HTTP\r\n\r\n'], {
        nextWhen: (received) => received.length > PARTIAL_BYTES,
      });
      expect(ex.ended).not.toBe('timeout');
      const head = ex.text.slice(0, ex.text.indexOf('\r\n\r\n') + 4);
      expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(head).toContain('content-length: 1048576');
      expect(ex.text.slice(head.length)).toBe('p'.repeat(PARTIAL_BYTES)); // cut short, nothing else in it
      await expect.poll(() => backends.get('compactor')!.abandoned).toContain('/compactor/stall-body');
      await expectStillServes();
    });
  });

  describe('sizes', () => {
    it(`a Content-Length above the limit: 413 before reading the body, and the connection closed`, async () => {
      const before = started();
      const ex = await rawExchange(gw.port, `POST /api/v1/push HTTP/1.1\r\nHost: gw\r\nContent-Length: ${LIMIT + 1}\r\n\r\n${'x'.repeat(1000)}`);
      expectGatewayAnswer(ex, 413, 'GW_ERR_BODY_TOO_LARGE', `request body of ${LIMIT + 1} bytes exceeds ${LIMIT} bytes (-server.http-max-request-body-bytes)`);
      expect(parseResponse(ex.text).headers['connection']).toBe('close');
      expect(started()).toBe(before);
      await expectStillServes();
    });

    it('a body of exactly the limit goes through', async () => {
      const res = await request(`${gw.url}/api/v1/push`, { method: 'POST', body: Buffer.alloc(LIMIT, 1) });
      expect(res.statusCode).toBe(200);
      expect(await res.body.json()).toMatchObject({ backend: 'distributor' });
    });

    it('a chunked body that grows past the limit: 413, the connection closed, the backend request abandoned', async () => {
      const dist = backends.get('distributor')!;
      const chunk = `2000\r\n${'c'.repeat(0x2000)}\r\n`;
      const parts = ['POST /api/v1/push?chunked-over=1 HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n', ...Array<string>(12).fill(chunk)];
      const ex = await rawExchange(gw.port, parts, { gapMs: 5, stopWhenAnswered: true });
      expectGatewayAnswer(ex, 413, 'GW_ERR_BODY_TOO_LARGE', `request body exceeds ${LIMIT} bytes (-server.http-max-request-body-bytes)`);
      expect(parseResponse(ex.text).headers['connection']).toBe('close');
      // The body streams, so the backend may have seen the start of it, but never a complete request.
      const path = '/api/v1/push?chunked-over=1';
      await expect.poll(() => !dist.started.includes(path) || dist.abandoned.includes(path)).toBe(true);
      expect(dist.completed).not.toContain(path);
      await expectStillServes();
    });

    it('request headers above 16 KiB: 431 and the connection closed', async () => {
      const before = started();
      for (const bad of [
        `GET /api/v1/push HTTP/1.1\r\nHost: gw\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`,
        `GET /api/v1/push HTTP/1.1\r\nHost: gw\r\n${Array.from({ length: 200 }, (_, i) => `X-Many-${i}: ${'m'.repeat(90)}\r\n`).join('')}\r\n`,
        `GET /prometheus/api/v1/query?query=${'q'.repeat(17 * 1024)} HTTP/1.1\r\nHost: gw\r\n\r\n`,
      ]) {
        const ex = await rawExchange(gw.port, bad);
        expectGatewayAnswer(ex, 431, 'GW_ERR_HEADERS_TOO_LARGE', 'request headers exceed 16384 bytes');
      }
      expect(started()).toBe(before);
      await expectStillServes();
    });

    it('12 KiB of headers is under the limit and reaches the backend intact', async () => {
      const big = 'h'.repeat(12 * 1024);
      const res = await request(`${gw.url}/prometheus/api/v1/labels`, { headers: { 'x-big': big } });
      expect(res.statusCode).toBe(200);
      const body = (await res.body.json()) as { headers: Record<string, string> };
      expect(body.headers['x-big']).toBe(big);
    });
  });

  describe('slow clients', () => {
    it('a slowloris client trickling headers is answered 408 and cut off after -server.http-read-header-timeout', async () => {
      const lines = ['GET /api/v1/push HTTP/1.1\r\n', ...Array.from({ length: 40 }, (_, i) => `X-Slow-${i}: y\r\n`)];
      const dist = backends.get('distributor')!;
      const before = dist.started.length;
      // Ten at once, while normal requests keep being served in between.
      // The client would trickle for 4 s and then wait for its own 20 s deadline: a gateway that did not cut
      // it off fails on `ended` (timeout) and `partsSent` (all sent), whatever the machine's load.
      const slow = Array.from({ length: 10 }, () => rawExchange(gw.port, lines, { gapMs: 100, timeoutMs: 20_000 }));
      for (let i = 0; i < 5; i++) await expectStillServes();
      for (const ex of await Promise.all(slow)) {
        expectGatewayAnswer(ex, 408, 'GW_ERR_HEADER_TIMEOUT', 'request headers not received within 0.5s (-server.http-read-header-timeout)');
        expect(ex.ms).toBeGreaterThanOrEqual(450); // not before the timeout (a lower bound holds on any machine)
        expect(ex.partsSent).toBeLessThan(lines.length);
      }
      expect(dist.started.length).toBe(before);
    });

    it('a connection that sends nothing is closed the same way', async () => {
      // Closed by the gateway, not by our 20 s deadline (`ended` is checked in expectGatewayAnswer).
      const ex = await rawExchange(gw.port, [], { timeoutMs: 20_000 });
      expectGatewayAnswer(ex, 408, 'GW_ERR_HEADER_TIMEOUT', 'request headers not received within 0.5s (-server.http-read-header-timeout)');
    });

    it('only the headers are timed: a body trickled for longer than the timeout still goes through', async () => {
      const body = 'abcdefghij';
      const ex = await rawExchange(
        gw.port,
        [`POST /api/v1/push?slow-body=1 HTTP/1.1\r\nHost: gw\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`, ...body.split('')],
        { gapMs: 120 },
      );
      expect(ex.ms).toBeGreaterThan(1000);
      const res = parseResponse(ex.text);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ backend: 'distributor', url: '/api/v1/push?slow-body=1' });
    });
  });

  describe('percent-encoding', () => {
    it.each([
      ['%zz', '/prometheus/api/v1/%zz'],
      ['a lone %', '/prometheus/api/v1/100%'],
      ['a truncated UTF-8 sequence', '/prometheus/api/v1/%e0%a4%a'],
      ['bytes that are not UTF-8', '/prometheus/api/v1/%ff'],
      ['an overlong encoding of "/"', '/prometheus/%c0%af..%c0%af..%c0%afapi/v1/push'],
    ])('%s: 400, not proxied, and the connection stays usable', async (_name, path) => {
      const before = started();
      // The bad request and a good one pipelined on one keep-alive connection.
      const ex = await rawExchange(gw.port, `GET ${path} HTTP/1.1\r\nHost: gw\r\n\r\nGET /api/v1/status/buildinfo HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`);
      const first = parseResponse(ex.text);
      expect(first.status).toBe(400);
      expect(first.headers['x-gateway-error']).toBe('GW_ERR_BAD_REQUEST');
      expect(first.body).toBe('invalid percent-encoding in request path\n');
      const second = parseResponse(first.rest);
      expect(second.status).toBe(200);
      expect(JSON.parse(second.body)).toMatchObject({ backend: 'query_frontend', url: '/api/v1/status/buildinfo' });
      expect(started()).toBe(before + 1);
    });

    it('the query string is not decoded: bad escapes there pass through unchanged', async () => {
      const ex = await rawExchange(gw.port, 'GET /prometheus/api/v1/query?query=%zz%&x=%ff HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n');
      const res = parseResponse(ex.text);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ backend: 'query_frontend', url: '/prometheus/api/v1/query?query=%zz%&x=%ff' });
    });
  });

  describe('path tricks route as the normalised path does (what a Go backend cleans the path to)', () => {
    const cases: Array<[string, string, string]> = [
      // [request target, backend, path the backend receives]
      ['/prometheus/%2E%2E/api/v1/push', 'distributor', '/prometheus/%2E%2E/api/v1/push'],
      ['/prometheus/.%2e/api/v1/push', 'distributor', '/prometheus/.%2e/api/v1/push'],
      ['/prometheus/%2e./api/v1/push', 'distributor', '/prometheus/%2e./api/v1/push'],
      ['/../../../api/v1/push', 'distributor', '/../../../api/v1/push'],
      ['/%2e%2e/%2e%2e/api/v1/push', 'distributor', '/%2e%2e/%2e%2e/api/v1/push'],
      ['/./api/./v1/./push', 'distributor', '/./api/./v1/./push'],
      ['/api%2Fv1%2Fpush', 'distributor', '/api%2Fv1%2Fpush'],
      ['/prometheus%2F..%2Fapi%2Fv1%2Fpush', 'distributor', '/prometheus%2F..%2Fapi%2Fv1%2Fpush'],
      ['/api/v1/pus%68', 'distributor', '/api/v1/pus%68'],
      ['/gateway/../api/v1/push', 'distributor', '/gateway/../api/v1/push'],
      ['/prometheus%2fapi%2fv1%2frules', 'ruler', '/prometheus%2fapi%2fv1%2frules'],
      ['//prometheus//api//v1//rules', 'ruler', '//prometheus//api//v1//rules'],
      ['/admin/api/../../prometheus/api/v1/query', 'query_frontend', '/admin/api/../../prometheus/api/v1/query'],
      // Decoded once, as the backend does: %252e%252e is the literal segment "%2e%2e", not "..".
      ['/prometheus/%252e%252e/api/v1/push', 'query_frontend', '/prometheus/%252e%252e/api/v1/push'],
      ['/prometheus/api/v1/query?x=/../../api/v1/push', 'query_frontend', '/prometheus/api/v1/query?x=/../../api/v1/push'],
      ['/api/v1/push/..', 'default', '/api/v1/push/..'],
      // RFC 9112 3.2.2: the absolute-form routes by its path and is forwarded in origin-form.
      ['http://evil.example/api/v1/push', 'distributor', '/api/v1/push'],
      ['HTTP://evil.example:8080/prometheus/../ruler/ring?a=1', 'ruler', '/prometheus/../ruler/ring?a=1'],
      ['http://evil.example', 'default', '/'],
    ];

    it.each(cases)('%s → %s', async (target, backend, received) => {
      const ex = await rawExchange(gw.port, `POST ${target} HTTP/1.1\r\nHost: gw\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx`);
      const res = parseResponse(ex.text);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ backend, url: received });
    });

    it('the asterisk-form names no path: 400', async () => {
      const before = started();
      const ex = await rawExchange(gw.port, 'OPTIONS * HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n');
      expectGatewayAnswer(ex, 400, 'GW_ERR_BAD_REQUEST', 'request target "*" is not a path; send /path or http://host/path');
      expect(started()).toBe(before);
      await expectStillServes();
    });

    it("tricks that normalise to the gateway's own endpoints are not proxied", async () => {
      const before = started();
      for (const target of ['/api/../ready', '/prometheus/%2e%2e/metrics', '//gateway/api/v1/config', 'http://x/ready']) {
        const ex = await rawExchange(gw.port, `GET ${target} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`);
        expect(parseResponse(ex.text).body).not.toContain('"backend"');
      }
      expect(started()).toBe(before);
    });
  });

  describe('X-Scope-OrgID', () => {
    it.each([
      ['two, different', 'X-Scope-OrgID: team-a\r\nX-Scope-OrgID: team-b'],
      ['two, equal', 'X-Scope-OrgID: team-a\r\nX-Scope-OrgID: team-a'],
      ['two, the name in different case', 'X-Scope-OrgID: team-a\r\nx-scope-orgid: team-b'],
      ['three, one empty', 'X-Scope-OrgID: team-a\r\nX-SCOPE-ORGID: \r\nx-scope-OrgId: team-c'],
    ])('%s: 400, not proxied', async (_name, headers) => {
      const before = started();
      for (const path of ['/api/v1/push', '/prometheus/api/v1/query']) {
        const ex = await rawExchange(gw.port, `POST ${path} HTTP/1.1\r\nHost: gw\r\n${headers}\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx`);
        expectGatewayAnswer(ex, 400, 'GW_ERR_DUPLICATE_ORG_ID', 'more than one X-Scope-OrgID header; send exactly one tenant header');
      }
      expect(started()).toBe(before);
      await expectStillServes();
    });

    it('one header naming several tenants ("a|b", query federation) is passed on as it is', async () => {
      const res = await request(`${gw.url}/prometheus/api/v1/query`, { headers: { 'x-scope-orgid': 'team-a|team-b' } });
      expect(res.statusCode).toBe(200);
      expect(((await res.body.json()) as { headers: Record<string, string> }).headers['x-scope-orgid']).toBe('team-a|team-b');
    });
  });
});
