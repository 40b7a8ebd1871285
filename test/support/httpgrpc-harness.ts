// Shared by the httpgrpc tests: an HttpGrpcUpstream behind a plain node:http server on 127.0.0.1:0
// (the gateway wiring comes later), and a poll-with-deadline helper.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { Endpoint } from '../../core/model.js';
import { HttpGrpcMetrics, HttpGrpcUpstream, type HttpGrpcUpstreamOptions } from '../../data-plane/httpgrpc/index.js';
import { eventually } from './poll.js';

export interface Proxy {
  readonly upstream: HttpGrpcUpstream;
  readonly registry: Registry;
  readonly url: string;
  close(): Promise<void>;
}

export async function startProxy(
  endpoints: readonly Endpoint[],
  opts: Partial<Omit<HttpGrpcUpstreamOptions, 'logger' | 'metrics'>> = {},
): Promise<Proxy> {
  const registry = new Registry();
  const upstream = new HttpGrpcUpstream({
    backend: 'distributor',
    url: 'dns:///distributor:9095',
    timeoutMs: 5_000,
    logger: pino({ level: 'silent' }),
    metrics: new HttpGrpcMetrics(registry),
    // Tests restart nothing; keep reconnect attempts to dead ports cheap and quick.
    backoff: { initialMs: 100, maxMs: 500 },
    ...opts,
  });
  upstream.setEndpoints(endpoints);
  const server: Server = createServer((req, res) => void upstream.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    upstream,
    registry,
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await upstream.close();
    },
  };
}

/** Poll `cond` until it holds; fail with `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  await eventually(cond, what, timeoutMs, 5);
}

export function readyCount(upstream: HttpGrpcUpstream): number {
  return upstream.endpoints().filter((e) => e.state === 'READY').length;
}
