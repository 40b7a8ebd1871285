import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { HttpGrpcHandler, HttpReply } from '../examples/local/httpgrpc-server.js';
import { startDistributors, type Distributors } from './support/distributors.js';
import { DECLARED_BYTES, FaultBackend, hugeByte, PARTIAL_BYTES } from './support/fault-backend.js';
import { eventually, startGateway, type RunningGateway } from './support/gateway.js';
import { MiB, mib, procMemory, startGatewayProcess, type GatewayProcess } from './support/gateway-process.js';
import { parseResponse, rawExchange } from './support/raw-http.js';
import { TcpProxy } from './support/tcp-proxy.js';

// Backends that misbehave: one that stalls, one that resets mid-response, one that sends a huge
// response, for an http:// backend and an httpgrpc (dns://) one. The client must see an honest
// answer (a timeout, an aborted body, never a truncated body passed off as complete) and the gateway
// must go on serving everything else. Memory is measured on the built binary in a child process.

/** A body of `n` bytes following hugeByte's ramp. */
function rampBody(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = hugeByte(i);
  return b;
}

/** Reads a response body, checking every chunk continues the ramp; returns the byte count. */
async function readRamp(body: AsyncIterable<Buffer>): Promise<number> {
  let n = 0;
  for await (const chunk of body) {
    if (chunk[0] !== hugeByte(n) || chunk[chunk.length - 1] !== hugeByte(n + chunk.length - 1)) throw new Error(`body differs near byte ${n}`);
    n += chunk.length;
  }
  return n;
}

describe('misbehaving backends', () => {
  let fault: FaultBackend;
  let other: FaultBackend;
  let cluster: Distributors;
  let proxy: TcpProxy;
  let gw: RunningGateway;
  /** Releases httpgrpc calls parked on /ingester/hold. */
  const held: Array<() => void> = [];

  const handler: HttpGrpcHandler = (req, { signal }) => {
    const path = req.url.split('?')[0]!;
    const done = (reply: HttpReply) => new Promise<HttpReply>((resolve) => {
      signal.addEventListener('abort', () => resolve(reply));
      if (path.endsWith('/hold')) held.push(() => resolve(reply));
    });
    if (path.endsWith('/stall') || path.endsWith('/hold')) return done({ code: 200, body: 'late' });
    if (path.endsWith('/big')) return { code: 200, headers: { 'Content-Type': 'application/octet-stream' }, body: rampBody(Number(new URL(req.url, 'http://x').searchParams.get('bytes'))) };
    return { code: 200, body: `ok ${req.url}` };
  };

  beforeAll(async () => {
    fault = await FaultBackend.start('fault', '127.0.0.2');
    other = await FaultBackend.start('other', '127.0.0.3');
    cluster = await startDistributors(['127.0.0.4'], handler);
    proxy = await TcpProxy.start('127.0.0.5', { host: '127.0.0.4', port: cluster.port });
    gw = await startGateway([
      `-gateway.proxy.default.url=${other.url}`,
      `-gateway.proxy.query-frontend.url=${fault.url}`,
      '-gateway.proxy.query-frontend.timeout=500ms',
      `-gateway.proxy.compactor.url=${fault.url}`,
      `-gateway.proxy.distributor.url=${cluster.url}`,
      '-gateway.proxy.distributor.timeout=500ms',
      `-gateway.proxy.ingester.url=dns:///127.0.0.5:${proxy.port}`,
      '-gateway.grpc-max-message-bytes=8MiB',
      '-control-plane.dns.lookup-period=1s',
    ]);
  });
  afterAll(async () => {
    for (const release of held.splice(0)) release();
    await gw?.stop();
    await proxy?.close();
    await cluster?.close();
    await Promise.all([fault?.close(), other?.close()]);
  });

  /** A request to an unrelated backend: answered. */
  async function expectOthersServed(): Promise<void> {
    const res = await request(`${gw.url}/api/v1/status/config`);
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toMatchObject({ backend: 'other' });
  }

  /**
   * Five requests to an unrelated backend while `pending` stalls: all answered, and the first while the
   * stalled one is still waiting, so nothing queues behind it (an order, not a time: holds on a busy machine).
   */
  async function expectOthersServedWhile(pending: Promise<unknown>): Promise<void> {
    let settled = false;
    void pending.then(
      () => (settled = true),
      () => (settled = true),
    );
    await expectOthersServed();
    expect(settled, 'an unrelated request waited for the stalled one').toBe(false);
    for (let i = 1; i < 5; i++) await expectOthersServed();
  }

  describe('http:// backend', () => {
    it('that never answers: 504 after its timeout, other backends served meanwhile, the backend request dropped', async () => {
      const started = performance.now();
      const pending = request(`${gw.url}/prometheus/api/v1/stall`);
      await expectOthersServedWhile(pending);
      const res = await pending;
      const ms = performance.now() - started;
      expect(res.statusCode).toBe(504);
      expect(res.headers['x-gateway-error']).toBe('GW_ERR_UPSTREAM_TIMEOUT');
      expect(await res.body.text()).toBe(`backend query_frontend (${fault.url}): no answer within 0.5s\n`);
      // Not before the backend's 0.5 s timeout (a lower bound holds on any machine; no upper bound).
      expect(ms).toBeGreaterThanOrEqual(450);
      await expect.poll(() => fault.abandoned).toContain('/prometheus/api/v1/stall');
    });

    for (const [fault_, framing, route] of [
      ['stall-body', 'Content-Length', '/prometheus/api/v1'],
      ['stall-chunks', 'chunked', '/prometheus/api/v1'],
      ['reset', 'Content-Length', '/compactor'],
      ['reset-chunks', 'chunked', '/compactor'],
    ] as const) {
      const what = fault_.startsWith('reset') ? 'resets the connection' : 'stalls';
      it(`that ${what} mid-body (${framing}): the client's body is aborted, never ended as if complete`, async () => {
        const path = `${route}/${fault_}`;
        // What a client library sees: the body fails.
        const res = await request(`${gw.url}${path}`);
        expect(res.statusCode).toBe(200);
        await expect(res.body.arrayBuffer()).rejects.toThrow();
        // On the wire: the 64 KiB that came, then the connection closes without a proper end.
        const ex = await rawExchange(gw.port, `GET ${path} HTTP/1.1\r\nHost: gw\r\n\r\n`, { timeoutMs: 5000 });
        expect(ex.ended).not.toBe('timeout');
        expect(() => parseResponse(ex.text)).toThrow(framing === 'chunked' ? /truncated chunked body/ : `body truncated: ${PARTIAL_BYTES} of ${DECLARED_BYTES} bytes`);
        expect(ex.text).not.toMatch(/\r\n0\r\n\r\n$/);
        await expectOthersServed();
        // The route itself still works.
        const ok = await request(`${gw.url}${route}/ok`);
        expect(ok.statusCode).toBe(200);
        expect(await ok.body.json()).toMatchObject({ backend: 'fault', url: `${route}/ok` });
      });
    }
  });

  describe('dns:// (httpgrpc) backend', () => {
    it('that never answers: 504 after its timeout, the call cancelled at the backend, others served meanwhile', async () => {
      const server = cluster.servers[0]!;
      const cancelled = server.cancelledCount;
      const started = performance.now();
      const pending = request(`${gw.url}/distributor/stall`);
      await expectOthersServedWhile(pending);
      const res = await pending;
      expect(res.statusCode).toBe(504);
      expect(res.headers['x-gateway-error']).toBe('GW_ERR_UPSTREAM_TIMEOUT');
      expect(await res.body.text()).toMatch(
        new RegExp(`^distributor \\(${cluster.url.replaceAll('.', '\\.')}\\) endpoint 127\\.0\\.0\\.4:${cluster.port}: Deadline exceeded after 0\\.\\d+s`),
      );
      const ms = performance.now() - started;
      // Not before the backend's 0.5 s timeout (a lower bound holds on any machine; no upper bound).
      expect(ms).toBeGreaterThanOrEqual(450);
      await expect.poll(() => server.cancelledCount).toBe(cancelled + 1);
      const ok = await request(`${gw.url}/distributor/ring`);
      expect(await ok.body.text()).toBe('ok /distributor/ring');
    });

    it('whose connection is reset mid-call: 502 (not retried: the backend may have processed it), then it serves again', async () => {
      const server = cluster.servers[0]!;
      const before = server.requestCount;
      const pending = request(`${gw.url}/ingester/hold`, { method: 'POST', body: 'sample' });
      await eventually(() => server.requestCount > before && proxy.open > 0, 'the call at the backend');
      proxy.resetAll();
      const res = await pending;
      expect(res.statusCode).toBe(502);
      expect(res.headers['x-gateway-error']).toBe('GW_ERR_UPSTREAM_REFUSED');
      expect(await res.body.text()).toBe(
        `ingester (dns:///127.0.0.5:${proxy.port}) endpoint 127.0.0.5:${proxy.port}: connection lost mid-request (read ECONNRESET); not retried, the backend may have processed it\n`,
      );
      expect(server.requestCount).toBe(before + 1); // once, not retried
      for (const release of held.splice(0)) release();
      await expectOthersServed();
      // The connection is dialled again; the backend serves the next request.
      const ok = await eventually(async () => {
        const r = await request(`${gw.url}/ingester/ring`);
        return r.statusCode === 200 ? r.body.text() : (await r.body.dump(), '');
      }, 'the ingester again');
      expect(ok).toBe('ok /ingester/ring');
    });

    it('with a response under -gateway.grpc-max-message-bytes: arrives complete', async () => {
      const bytes = 6 * MiB;
      const res = await request(`${gw.url}/ingester/big?bytes=${bytes}`);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-length']).toBe(String(bytes));
      expect(await readRamp(res.body)).toBe(bytes);
    });

    it('with a response over -gateway.grpc-max-message-bytes: 502 naming the limit, not 413', async () => {
      const res = await request(`${gw.url}/ingester/big?bytes=${12 * MiB}`);
      expect(res.statusCode).toBe(502);
      expect(res.headers['x-gateway-error']).toBe('GW_ERR_UPSTREAM_FAILED');
      // 8 MiB of body plus the 1 MiB the gateway allows for method, url and headers.
      expect(await res.body.text()).toMatch(
        new RegExp(
          `^ingester \\(dns:///127\\.0\\.0\\.5:${proxy.port}\\) endpoint 127\\.0\\.0\\.5:${proxy.port}: ` +
            `response of 125829\\d\\d bytes exceeds the ${9 * MiB}-byte gRPC message limit \\(-gateway\\.grpc-max-message-bytes\\)\n$`,
        ),
      );
      await expectOthersServed();
      const ok = await request(`${gw.url}/ingester/ring`);
      expect(await ok.body.text()).toBe('ok /ingester/ring');
    });
  });

  describe('huge responses through the built binary: complete, and the gateway does not hold them', () => {
    let child: GatewayProcess;
    beforeAll(async () => {
      child = await startGatewayProcess([
        `-gateway.proxy.default.url=${other.url}`,
        `-gateway.proxy.compactor.url=${fault.url}`,
        `-gateway.proxy.ingester.url=dns:///127.0.0.4:${cluster.port}`,
      ]);
      // Warm up both proxies so their pools and code paths are in the baseline.
      for (const path of ['/compactor/ok', '/ingester/ok', '/compactor/huge?bytes=1048576']) await (await request(`${child.url}${path}`)).body.dump();
    });
    afterAll(async () => child?.stop());

    it('http://: 200 MiB streamed arrives complete; peak memory grows by far less than the body', async () => {
      const bytes = 200 * MiB;
      const before = procMemory(child.pid);
      const res = await request(`${child.url}/compactor/huge?bytes=${bytes}`);
      expect(res.statusCode).toBe(200);
      expect(await readRamp(res.body)).toBe(bytes);
      const grew = procMemory(child.pid).hwm - before.hwm;
      console.info(`http:// 200 MiB response: gateway peak RSS ${mib(before.hwm)} -> +${mib(grew)}`);
      // Streaming holds a few socket buffers; GC timing adds some. Holding the body would be +200 MiB.
      expect(grew).toBeLessThan(96 * MiB);
      expect((await request(`${child.url}/compactor/ok`)).statusCode).toBe(200);
    });

    it('dns://: a 150 MiB response over the default 100 MiB limit is refused at its length prefix, without buffering it', async () => {
      const before = procMemory(child.pid);
      const res = await request(`${child.url}/ingester/big?bytes=${150 * MiB}`);
      expect(res.statusCode).toBe(502);
      expect(await res.body.text()).toMatch(/response of 1572864\d\d bytes exceeds the 105906176-byte gRPC message limit/);
      const grew = procMemory(child.pid).hwm - before.hwm;
      console.info(`dns:// 150 MiB response refused: gateway peak RSS +${mib(grew)}`);
      expect(grew).toBeLessThan(32 * MiB);
    });

    it('dns://: a 90 MiB response (httpgrpc is unary: held once, whole) arrives complete, memory bounded by a small multiple', async () => {
      const bytes = 90 * MiB;
      const before = procMemory(child.pid);
      const res = await request(`${child.url}/ingester/big?bytes=${bytes}`);
      expect(res.statusCode).toBe(200);
      expect(await readRamp(res.body)).toBe(bytes);
      const after = procMemory(child.pid);
      const grew = after.hwm - before.hwm;
      console.info(`dns:// 90 MiB response: gateway peak RSS +${mib(grew)}`);
      expect(grew).toBeLessThan(3 * bytes);
      expect((await request(`${child.url}/ingester/ok`)).statusCode).toBe(200);
    });
  });
});
