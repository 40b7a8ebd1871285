import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Backend } from '../core/model.js';
import type { BalancingPolicy } from '../core/balancing.js';

/** What the server hands an upstream with each request. */
export interface UpstreamContext {
  readonly maxBodyBytes: number;
  /** Count and log a backend failure (reason: refused, reset, timeout, failed, unavailable, too_large). */
  onUpstreamError(reason: string, err: unknown): void;
}

/** A proxy to one backend. `handle` owns the response from then on. */
export interface Upstream {
  readonly kind: 'http' | 'httpgrpc';
  readonly backend: Backend;
  handle(req: IncomingMessage, res: ServerResponse, ctx: UpstreamContext): void;
  /** Per-endpoint state, for upstreams that balance over endpoints. */
  endpoints?(): readonly unknown[];
  /** Balancing in force (round robin / least request, outlier detection), for upstreams that balance. */
  readonly balancing?: BalancingPolicy;
  /** Stops new use; resolves when in-flight requests are done and connections are closed. */
  close(): Promise<void>;
}
