// Builds a complete GatewayState from backends and routes, reusing the upstreams of the previous
// state whose backend settings did not change (their pools and connections stay warm).

import { isDeepStrictEqual } from 'node:util';
import type { Backend, BackendName } from '../control-plane/model.js';
import type { RouteRule } from '../control-plane/routes.js';
import type { GatewayState } from './gateway-state.js';
import { Router } from './router.js';
import type { Upstream } from './upstream.js';

export type UpstreamFactory = (backend: Backend) => Upstream;

export function buildState(
  version: string,
  backends: readonly Backend[],
  routes: readonly RouteRule[],
  prev: GatewayState | undefined,
  create: UpstreamFactory,
): GatewayState {
  const upstreams = new Map<BackendName, Upstream>();
  for (const b of backends) {
    const old = prev?.upstreams.get(b.name);
    upstreams.set(b.name, old && isDeepStrictEqual(old.backend, b) ? old : create(b));
  }
  return { version, router: new Router(routes), upstreams };
}
