// Everything a request needs, built completely before it is used and then swapped in with one
// assignment (grpc-js's picker habit): a request keeps the state it started with.

import type { Authenticator } from './auth/authenticator.js';
import type { Router } from './router.js';
import type { Upstream } from './upstream.js';

export interface GatewayState {
  /** Identifies what was applied (the xDS versions). */
  readonly version: string;
  readonly router: Router;
  /** By cluster name (= backend name for our control plane). */
  readonly upstreams: ReadonlyMap<string, Upstream>;
  /** Token mode: checks every proxied request; undefined in trust mode. */
  readonly auth?: Authenticator;
}

/** Upstreams of `prev` that `next` no longer uses: close them after their last request. */
export function retiredUpstreams(prev: GatewayState | undefined, next: GatewayState): Upstream[] {
  if (!prev) return [];
  const kept = new Set(next.upstreams.values());
  return [...new Set(prev.upstreams.values())].filter((u) => !kept.has(u));
}
