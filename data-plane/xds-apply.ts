// Accepted xDS resources → a complete GatewayState. Builds everything first (router, upstreams,
// endpoint sets) and reports what is missing instead of building half a state; the caller swaps
// the result in with one assignment. Upstreams whose settings did not change are reused, so their
// pools and HTTP/2 connections stay; an httpgrpc upstream gets its new endpoint set in place.

import { accessSync, constants } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import type { Backend, Endpoint } from '../core/model.js';
import type { BalancingPolicy } from '../core/balancing.js';
import { balancingFromCluster } from '../xds/balancing-policy.js';
import { zoneGatewaysOf } from '../xds/zone-metadata.js';
import { backendFromCluster } from '../xds/gateway-metadata.js';
import { TYPE_URL, type TypeUrl } from '../xds/resource.js';
import type { GatewayState } from './gateway-state.js';
import { Router, type RouteInput } from './router.js';
import type { Upstream } from './upstream.js';
import type { AcceptedResources } from './xds/accepted-state.js';
import type { AuthRuntime } from './auth/authenticator.js';
import { authConfigOf, routeScopeProblem, routeScopesOf } from '../xds/auth-filter.js';
import { edsNameOf, rdsNamesOf, type DecodedCluster, type DecodedClusterLoadAssignment, type DecodedListener, type DecodedRoute, type DecodedRouteConfiguration } from '../xds/decoded.js';

export interface UpstreamFactory {
  create(backend: Backend): Upstream;
  /** Called for httpgrpc upstreams with each new endpoint set. */
  setEndpoints(upstream: Upstream, endpoints: readonly Endpoint[], zoneGateways?: ReadonlyMap<string, number>): void;
  /** Called for httpgrpc upstreams with the Cluster's balancing, applied in place (no new upstream). */
  setBalancing?(upstream: Upstream, policy: BalancingPolicy): void;
}

export type BuildResult =
  | { readonly state: GatewayState; /** Clusters whose empty endpoint set was ignored. */ readonly keptEndpoints: readonly string[] }
  | { readonly waiting: string }
  /** A complete config this gateway must not serve (fail closed); the current state stays. */
  | { readonly refused: string; readonly version: string };

/** What authentication the state gets: the runtime that outlives states, and whether it is mandatory. */
export interface GatewayAuth {
  readonly runtime: AuthRuntime;
  /** -auth.type=token on this gateway: never serve without authentication, whatever the control plane sends. */
  readonly required: boolean;
}

export function buildGatewayState(
  accepted: AcceptedResources,
  listenerName: string,
  prev: GatewayState | undefined,
  factory: UpstreamFactory,
  auth?: GatewayAuth,
): BuildResult {
  const listener = accepted.listeners.get(listenerName);
  if (!listener) return { waiting: `listener "${listenerName}"` };
  const rdsName = rdsNamesOf(listener)[0];
  if (rdsName === undefined) return { waiting: `a route configuration name in listener "${listenerName}"` };
  const rc = accepted.routes.get(rdsName);
  if (!rc) return { waiting: `route configuration "${rdsName}"` };
  const rules = routeRules(rc);
  const v = accepted.versions;
  const version = [v[TYPE_URL.cluster], v[TYPE_URL.endpoint], v[TYPE_URL.listener], v[TYPE_URL.route]].join('/');
  // Checked before the listener was ACKed (checkResources), so anything else here is trust mode.
  const authConfig = authConfigOf(listener);
  const authFilter = authConfig && !('problems' in authConfig) ? authConfig : undefined;
  // Fail closed, before any upstream is built: a listener that asks for authentication is never
  // served without it, and a gateway told to authenticate never serves a trust-mode listener.
  if (authFilter && !auth) return { waiting: 'authentication support (no AuthRuntime given to buildGatewayState)' };
  if (!authFilter && auth?.required) {
    return {
      refused:
        'a configuration with authentication (-auth.type=token is set on this gateway, but the control plane sends no auth filter: set -auth.type=token and -auth.tokens-file on the control plane)',
      version,
    };
  }
  // Phase 1: check that everything the routes need is there, creating nothing, so an incomplete
  // config leaves no half-built upstreams (with open connections) behind.
  const wanted = new Map<string, { backend: Backend; endpoints: Endpoint[] | undefined; zoneGateways?: ReadonlyMap<string, number>; balancing: BalancingPolicy }>();
  for (const r of rules) {
    if (r.cluster === undefined || wanted.has(r.cluster)) continue;
    const cluster = accepted.clusters.get(r.cluster);
    if (!cluster) return { waiting: `cluster "${r.cluster}"` };
    const backend = backendFromCluster(cluster);
    if (typeof backend === 'string') return { waiting: backend };
    let endpoints: Endpoint[] | undefined;
    let zoneGateways: ReadonlyMap<string, number> | undefined;
    if (backend.target.kind === 'dns') {
      const eds = edsNameOf(cluster) ?? cluster.name;
      const cla = accepted.endpoints.get(eds);
      if (!cla) return { waiting: `endpoints "${eds}"` };
      endpoints = endpointsOf(cla);
      zoneGateways = zoneGatewaysOf(cla);
    }
    wanted.set(r.cluster, { backend, endpoints, ...(zoneGateways ? { zoneGateways } : {}), balancing: balancingFromCluster(cluster) });
  }
  // Phase 2: reuse what did not change, create the rest.
  const upstreams = new Map<string, Upstream>();
  const keptEndpoints: string[] = [];
  for (const [name, { backend, endpoints, zoneGateways, balancing }] of wanted) {
    const old = prev?.upstreams.get(name);
    const upstream = old && isDeepStrictEqual(old.backend, backend) ? old : factory.create(backend);
    // Before the endpoints, so a new upstream never balances one moment without its policy.
    if (backend.target.kind === 'dns') factory.setBalancing?.(upstream, balancing);
    // An empty set for a backend that has endpoints keeps them, as the DNS watcher keeps its last
    // good answer: a control plane that restarts while DNS fails knows no addresses yet, and
    // taking that literally would fail every request to healthy distributors.
    if (endpoints && endpoints.length === 0 && upstream === old && (old.endpoints?.().length ?? 0) > 0) keptEndpoints.push(name);
    else if (endpoints) factory.setEndpoints(upstream, endpoints, zoneGateways);
    upstreams.set(name, upstream);
  }
  let authenticator;
  if (authFilter) authenticator = auth!.runtime.authenticatorFor(authFilter);
  else auth?.runtime.clear();
  return { state: { version, router: new Router(rules), upstreams, ...(authenticator ? { auth: authenticator } : {}) }, keptEndpoints };
}

/**
 * TLS files a Cluster names that this gateway cannot read (a secret not mounted on this pod): the
 * upstream could not be built, so the Cluster is NACKed here rather than failing after the ACK.
 */
function unreadableTlsFiles(b: Backend): string[] {
  const out: string[] = [];
  for (const [field, file] of [['tls_ca_path', b.tls.caPath], ['tls_cert_path', b.tls.certPath], ['tls_key_path', b.tls.keyPath]] as const) {
    if (file === '') continue;
    try {
      accessSync(file, constants.R_OK);
    } catch (err) {
      out.push(`${field} ${JSON.stringify(file)} cannot be read on this gateway (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  return out;
}

/**
 * Semantic checks beyond the protoc-gen-validate rules, run before a response is ACKed: what the
 * gateway could not serve is NACKed with a reason, and the last good config stays.
 */
export function checkResources(typeUrl: TypeUrl, resources: ReadonlyMap<string, unknown>, accepted: AcceptedResources): string[] {
  const problems: string[] = [];
  if (typeUrl === TYPE_URL.listener) {
    // A token set the gateway cannot enforce is NACKed: the last good one stays in force.
    for (const l of resources.values() as Iterable<DecodedListener>) {
      const auth = authConfigOf(l);
      if (auth && 'problems' in auth) problems.push(...auth.problems.map((p) => `Listener "${l.name}": ${p}`));
    }
  } else if (typeUrl === TYPE_URL.cluster) {
    for (const c of resources.values() as Iterable<DecodedCluster>) {
      const b = backendFromCluster(c);
      if (typeof b === 'string') problems.push(`Cluster "${c.name}": ${b}`);
      else problems.push(...unreadableTlsFiles(b).map((p) => `Cluster "${c.name}": ${p}`));
    }
  } else if (typeUrl === TYPE_URL.route) {
    for (const rc of resources.values() as Iterable<DecodedRouteConfiguration>) {
      for (const [i, r] of routesOf(rc).entries()) {
        const where = `RouteConfiguration "${rc.name}": route ${JSON.stringify(r.name ?? String(i))}`;
        if (r.match?.prefix === undefined && r.match?.path === undefined) problems.push(`${where}: only prefix and path matches are supported`);
        const cluster = r.route?.cluster;
        if (cluster !== undefined && !accepted.clusters.has(cluster)) problems.push(`${where}: names cluster "${cluster}", which is not known`);
        if (cluster === undefined && !r.direct_response) problems.push(`${where}: needs route.cluster or direct_response`);
        const scopeProblem = routeScopeProblem(r);
        if (scopeProblem) problems.push(`${where}: ${scopeProblem}`);
      }
    }
  }
  return problems;
}

function routesOf(rc: DecodedRouteConfiguration): readonly DecodedRoute[] {
  const vhosts = rc.virtual_hosts ?? [];
  // The gateway answers any Host: the catch-all virtual host, else the first.
  const vh = vhosts.find((v) => v.domains?.includes('*')) ?? vhosts[0];
  return vh?.routes ?? [];
}

function routeRules(rc: DecodedRouteConfiguration): RouteInput[] {
  const out: RouteInput[] = [];
  for (const [i, r] of routesOf(rc).entries()) {
    const exact = r.match?.path;
    const prefix = r.match?.prefix;
    if (exact === undefined && prefix === undefined) continue;
    const label = r.name ?? `route-${i}`;
    const direct = r.direct_response ? { status: r.direct_response.status ?? 503, body: r.direct_response.body?.inline_string ?? '' } : undefined;
    out.push({
      match: exact !== undefined ? 'exact' : 'prefix',
      path: exact ?? prefix ?? '',
      label,
      cluster: direct ? undefined : r.route?.cluster,
      direct,
      scopes: routeScopesOf(r),
    });
  }
  return out;
}

function endpointsOf(cla: DecodedClusterLoadAssignment): Endpoint[] {
  const out: Endpoint[] = [];
  for (const locality of cla.endpoints ?? []) {
    const zone = locality.locality?.zone || undefined;
    for (const lb of locality.lb_endpoints ?? []) {
      if (lb.health_status === 'UNHEALTHY' || lb.health_status === 'DRAINING') continue;
      const sa = lb.endpoint?.address?.socket_address;
      if (sa?.address && sa.port_value) out.push({ address: sa.address, port: sa.port_value, ...(zone ? { zone } : {}) });
    }
  }
  return out;
}
