// Chooses the proxy for each backend: HTTP for http(s)://, httpgrpc for dns://. httpgrpc endpoint
// sets are pushed in (from xDS ClusterLoadAssignments); the data plane never resolves DNS itself.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { isDeepStrictEqual } from 'node:util';
import type { Backend, Endpoint } from '../core/model.js';
import type { BalancingPolicy } from '../core/balancing.js';
import { HttpUpstream } from '../data-plane/http-upstream.js';
import { HttpGrpcMetrics, HttpGrpcUpstream, type HttpGrpcClientKind } from '../data-plane/httpgrpc/index.js';
import type { UpstreamFactory } from '../data-plane/xds-apply.js';
import type { Upstream, UpstreamContext } from '../data-plane/upstream.js';
import type { EndpointLoad, LoadRecorder } from '../data-plane/load/load-recorder.js';

/** An httpgrpc upstream as the gateway sees it; endpoints are pushed in by whoever owns them. */
export class HttpGrpcBackend implements Upstream {
  readonly kind = 'httpgrpc';
  private readonly inner: HttpGrpcUpstream;

  constructor(
    readonly backend: Backend,
    opts: { maxMessageBytes: number; client?: HttpGrpcClientKind; logger: Logger; metrics: HttpGrpcMetrics; load?: EndpointLoad; localZone?: string },
  ) {
    this.inner = new HttpGrpcUpstream({
      backend: backend.name,
      url: backend.url,
      maxMessageBytes: opts.maxMessageBytes,
      ...(opts.client ? { client: opts.client } : {}),
      timeoutMs: backend.timeoutMs,
      tls: backend.tls.enabled ? backend.tls : undefined,
      logger: opts.logger,
      metrics: opts.metrics,
      load: opts.load,
      ...(opts.localZone ? { localZone: opts.localZone } : {}),
    });
  }

  setEndpoints(endpoints: readonly Endpoint[], zoneGateways?: ReadonlyMap<string, number>): void {
    this.inner.setEndpoints(endpoints, zoneGateways);
  }

  setBalancing(policy: BalancingPolicy): void {
    if (!isDeepStrictEqual(this.inner.balancing, policy)) this.inner.setBalancing(policy);
  }

  get balancing(): BalancingPolicy {
    return this.inner.balancing;
  }

  endpoints(): ReturnType<HttpGrpcUpstream['endpoints']> {
    return this.inner.endpoints();
  }

  handle(req: IncomingMessage, res: ServerResponse, ctx: UpstreamContext): void {
    void this.inner.handle(req, res, ctx);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface UpstreamFactoryDeps {
  readonly maxMessageBytes: number;
  /** -gateway.httpgrpc-client. */
  readonly client?: HttpGrpcClientKind;
  readonly logger: Logger;
  readonly httpgrpcMetrics: HttpGrpcMetrics;
  /** Per-backend, per-endpoint load for the LRS reports. */
  readonly load?: LoadRecorder;
  /** This gateway's zone (-gateway.xds.locality-zone); '' or absent: none. */
  readonly localZone?: string;
}

export function createUpstreamFactory(deps: UpstreamFactoryDeps): UpstreamFactory {
  return {
    create: (backend: Backend): Upstream =>
      backend.target.kind === 'http'
        ? new HttpUpstream(backend, deps.load?.forCluster(backend.name))
        : new HttpGrpcBackend(backend, {
            maxMessageBytes: deps.maxMessageBytes,
            ...(deps.client ? { client: deps.client } : {}),
            logger: deps.logger,
            metrics: deps.httpgrpcMetrics,
            load: deps.load?.forCluster(backend.name),
            ...(deps.localZone ? { localZone: deps.localZone } : {}),
          }),
    setEndpoints: (upstream: Upstream, endpoints: readonly Endpoint[], zoneGateways?: ReadonlyMap<string, number>): void => {
      if (upstream instanceof HttpGrpcBackend) upstream.setEndpoints(endpoints, zoneGateways);
    },
    setBalancing: (upstream: Upstream, policy: BalancingPolicy): void => {
      if (upstream instanceof HttpGrpcBackend) upstream.setBalancing(policy);
    },
  };
}
