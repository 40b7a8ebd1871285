// Chooses the proxy for each backend: HTTP for http(s)://, httpgrpc for dns://. httpgrpc endpoint
// sets come from an EndpointSource (the control plane's DNS watcher, or xDS), never from the data plane.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Backend, Endpoint } from '../control-plane/model.js';
import type { EndpointSource } from '../control-plane/dns/dns-watcher.js';
import { HttpUpstream } from '../data-plane/http-upstream.js';
import { HttpGrpcMetrics, HttpGrpcUpstream } from '../data-plane/httpgrpc/index.js';
import type { UpstreamFactory } from '../data-plane/state-builder.js';
import type { Upstream, UpstreamContext } from '../data-plane/upstream.js';

/** An httpgrpc upstream as the gateway sees it; endpoints are pushed in by whoever owns them. */
export class HttpGrpcBackend implements Upstream {
  readonly kind = 'httpgrpc';
  private readonly inner: HttpGrpcUpstream;
  private detach: (() => void) | undefined;

  constructor(
    readonly backend: Backend,
    opts: { maxMessageBytes: number; logger: Logger; metrics: HttpGrpcMetrics },
  ) {
    this.inner = new HttpGrpcUpstream({
      backend: backend.name,
      url: backend.url,
      maxMessageBytes: opts.maxMessageBytes,
      timeoutMs: backend.timeoutMs,
      tls: backend.tls.enabled ? backend.tls : undefined,
      logger: opts.logger,
      metrics: opts.metrics,
    });
  }

  setEndpoints(endpoints: readonly Endpoint[]): void {
    this.inner.setEndpoints(endpoints);
  }

  /** Keeps the endpoint set following `source` until close(). */
  follow(source: EndpointSource): void {
    if (this.backend.target.kind !== 'dns') return;
    this.detach = source.watch(this.backend.target, (eps) => this.inner.setEndpoints(eps));
  }

  endpoints(): ReturnType<HttpGrpcUpstream['endpoints']> {
    return this.inner.endpoints();
  }

  handle(req: IncomingMessage, res: ServerResponse, ctx: UpstreamContext): void {
    void this.inner.handle(req, res, ctx);
  }

  close(): Promise<void> {
    this.detach?.();
    return this.inner.close();
  }
}

export interface UpstreamFactoryDeps {
  readonly maxMessageBytes: number;
  readonly logger: Logger;
  readonly httpgrpcMetrics: HttpGrpcMetrics;
  /** Where httpgrpc endpoint sets come from when they are not pushed by xDS. */
  readonly endpoints?: EndpointSource;
}

export function createUpstreamFactory(deps: UpstreamFactoryDeps): UpstreamFactory {
  return (backend: Backend): Upstream => {
    if (backend.target.kind === 'http') return new HttpUpstream(backend);
    const u = new HttpGrpcBackend(backend, { maxMessageBytes: deps.maxMessageBytes, logger: deps.logger, metrics: deps.httpgrpcMetrics });
    if (deps.endpoints) u.follow(deps.endpoints);
    return u;
  };
}
