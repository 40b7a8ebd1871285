// Facts (backends, routes, resolved endpoints) → Envoy v3 xDS resources. A pure function: no I/O,
// no clock, and the same input always gives byte-identical output, so versions can be content
// hashes. Resources are what both consumers accept:
//  - Envoy (PGV rules, see xds/validate.ts) for the gateway listener, its routes and every cluster;
//  - gRPC proxyless clients (@grpc/grpc-js-xds, gRFC A27/A28) for the per-backend `api_listener`s,
//    the EDS clusters and their ClusterLoadAssignments, which `xds:///<backend>` channels consume.

import { isIP } from 'node:net';
import { dnsTargetKey, type Backend, type BackendName, type Endpoint, type HttpTarget } from '../core/model.js';
import { ADMIN_SCOPES, unsetBackendMessage, type RouteRule } from '../core/routes.js';
import { backendMetadata } from '../xds/gateway-metadata.js';
import { authHttpFilter, routeScopeMetadata, type AuthFilterConfig } from '../xds/auth-filter.js';
import {
  HCM_TYPE_URL,
  ROUTER_TYPE_URL,
  TYPE_ORDER,
  TYPE_URL,
  UPSTREAM_TLS_TYPE_URL,
  type ResourceRef,
  type TypeUrl,
  type XdsResource,
} from '../xds/resource.js';
import { encodeResource, type PlainMessage } from '../xds/protos.js';
import { balancingClusterFields, protoDuration } from '../xds/balancing-policy.js';
import { zoneGatewaysMetadata, type ZoneGatewayCounts } from '../xds/zone-metadata.js';

export interface ListenerSpec {
  /** Listener and RouteConfiguration name, e.g. 'metrics-gateway'. */
  readonly name: string;
  readonly address: string;
  readonly port: number;
}

export interface TranslateInput {
  /** After `default` fallback; a backend with no url at all (and no default) is absent. */
  readonly backends: readonly Backend[];
  readonly routes: readonly RouteRule[];
  /** Resolved addresses per dnsTargetKey(target). */
  readonly endpoints: ReadonlyMap<string, readonly Endpoint[]>;
  readonly listener: ListenerSpec;
  /** Auth type token: the filter (with the tokens) on the gateway Listener, scopes on its routes. */
  readonly auth?: AuthFilterConfig;
  /** Connected gateways per zone over the fleet (Envoy's local cluster), for zoned backends' CLAs. */
  readonly gatewayZones?: ZoneGatewayCounts;
}

export type TranslatedResources = ReadonlyMap<TypeUrl, readonly XdsResource[]>;

/** Envoy's default connect timeout; a shorter per-request timeout caps it. */
const MAX_CONNECT_TIMEOUT_MS = 5000;

// Both xDS consumers need the ADS config source spelled out (grpc-js-xds rejects a cluster or
// HCM whose config source is neither `ads` nor `self`; resource_api_version defaults to AUTO, i.e.
// v2, which current Envoy rejects).
// Built fresh per use so no two views share (mutable) objects.
const adsSource = (): PlainMessage => ({ ads: {}, resource_api_version: 'V3' });

// The router must be the last HTTP filter (Envoy HCM docs; grpc-js-xds checks the same).
const routerFilter = (): PlainMessage => ({ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE_URL } });

export function translate(input: TranslateInput): TranslatedResources {
  const backends = [...input.backends].sort((a, b) => cmp(a.name, b.name));
  for (let i = 1; i < backends.length; i++) {
    if (backends[i]?.name === backends[i - 1]?.name) throw new Error(`duplicate backend "${backends[i]?.name}"`);
  }
  const out = new Map<TypeUrl, XdsResource[]>(TYPE_ORDER.map((t) => [t, []]));
  // `shown`: the view for dumps and the API when it must differ from what is sent (token hashes).
  const add = (typeUrl: TypeUrl, name: string, view: PlainMessage, refs: ResourceRef[] = [], shown: PlainMessage = view): void => {
    out.get(typeUrl)?.push({ name, typeUrl, value: encodeResource(typeUrl, view), refs, view: shown });
  };

  for (const b of backends) {
    if (b.target.kind === 'dns') {
      add(TYPE_URL.cluster, b.name, edsCluster(b), [{ typeUrl: TYPE_URL.endpoint, names: [b.name] }]);
      if (b.zones !== undefined && b.zones.length > 0) {
        const perZone = b.zones.map((z) => ({ zone: z.zone, endpoints: input.endpoints.get(dnsTargetKey(z.target)) ?? literalEndpoint(z.target.host, z.target.port) }));
        add(TYPE_URL.endpoint, b.name, zonedLoadAssignment(b.name, perZone, input.gatewayZones));
      } else {
        const eps = input.endpoints.get(dnsTargetKey(b.target)) ?? literalEndpoint(b.target.host, b.target.port);
        add(TYPE_URL.endpoint, b.name, loadAssignment(b.name, eps));
      }
      add(TYPE_URL.listener, b.name, apiListener(b), [{ typeUrl: TYPE_URL.cluster, names: [b.name] }]);
    } else {
      add(TYPE_URL.cluster, b.name, httpCluster(b, b.target));
    }
  }

  const name = input.listener.name;
  const routeRef = [{ typeUrl: TYPE_URL.route, names: [name] }];
  add(TYPE_URL.listener, name, gatewayListener(input.listener, input.auth), routeRef, gatewayListener(input.listener, input.auth, true));
  const byName = new Map(backends.map((b) => [b.name, b]));
  const routes = orderRoutes(input.routes);
  const clusters = [...new Set(routes.filter((r) => byName.has(r.backend)).map((r) => r.backend))].sort(cmp);
  add(TYPE_URL.route, name, routeConfiguration(name, routes, byName, input.auth !== undefined), [{ typeUrl: TYPE_URL.cluster, names: clusters }]);

  for (const list of out.values()) list.sort((a, b) => cmp(a.name, b.name));
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const duration = protoDuration;

function connectTimeout(b: Backend): PlainMessage {
  return duration(b.timeoutMs > 0 ? Math.min(b.timeoutMs, MAX_CONNECT_TIMEOUT_MS) : MAX_CONNECT_TIMEOUT_MS);
}

function socketAddress(address: string, port: number): PlainMessage {
  return { socket_address: { address, port_value: port } };
}

/** One locality holding every endpoint. The weight is required by gRPC: grpc-js-xds drops
 *  localities without load_balancing_weight (xds-dependency-manager.js), leaving no endpoints. */
function loadAssignment(clusterName: string, endpoints: readonly Endpoint[]): PlainMessage {
  const unique = new Map<string, Endpoint>();
  for (const e of endpoints) unique.set(`${e.address}\u0000${e.port}`, e); // gRPC NACKs duplicates
  const sorted = [...unique.values()].sort((a, b) => cmp(a.address, b.address) || a.port - b.port);
  if (sorted.length === 0) return { cluster_name: clusterName };
  const lbEndpoints = sorted.map((e) => ({ endpoint: { address: socketAddress(e.address, e.port) } }));
  return {
    cluster_name: clusterName,
    endpoints: [{ locality: {}, load_balancing_weight: { value: 1 }, lb_endpoints: lbEndpoints }],
  };
}

/**
 * One LocalityLbEndpoints per zone (endpoint.proto), priority 0 for all: the zone-aware arithmetic runs
 * in each gateway, which knows its own zone (-gateway.xds.locality-zone), so every gateway gets the
 * same resource and replicas agree. Each locality's metadata carries the fleet's gateways in that
 * zone and in all (xds/zone-metadata.ts), the inputs Envoy takes from its local cluster. Weight = the zone's endpoint count, so clients that weight
 * localities (grpc-js-xds: weighted_target) give every endpoint the same share. An endpoint listed
 * by two zones stays in the first (sorted by zone name); gRPC NACKs duplicates.
 */
function zonedLoadAssignment(clusterName: string, zones: readonly { zone: string; endpoints: readonly Endpoint[] }[], gateways: ZoneGatewayCounts | undefined): PlainMessage {
  const seen = new Set<string>();
  const localities: PlainMessage[] = [];
  for (const { zone, endpoints } of zones) {
    const unique = endpoints.filter((e) => {
      const key = `${e.address}\u0000${e.port}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    const sorted = [...unique].sort((a, b) => cmp(a.address, b.address) || a.port - b.port);
    if (sorted.length === 0) continue;
    const metadata = zoneGatewaysMetadata(zone, gateways);
    localities.push({
      locality: { zone },
      ...(metadata ? { metadata } : {}),
      load_balancing_weight: { value: sorted.length },
      lb_endpoints: sorted.map((e) => ({ endpoint: { address: socketAddress(e.address, e.port) } })),
    });
  }
  return localities.length === 0 ? { cluster_name: clusterName } : { cluster_name: clusterName, endpoints: localities };
}

/** A DNS target that is an IP literal is its own single endpoint, even before any DNS answer. */
function literalEndpoint(host: string, port: number): Endpoint[] {
  return isIP(host) ? [{ address: host, port }] : [];
}

// Load reports go to the server this Cluster came from (cluster.proto lrs_server, "self"): every
// xDS client that reports load (Envoy, gRPC proxyless clients, our gateways) feeds the dashboard.
const LRS_SELF: PlainMessage = { self: {} };

function edsCluster(b: Backend): PlainMessage {
  // TLS settings travel in metadata only: gRPC clients accept an UpstreamTlsContext only with
  // certificate-provider instances (gRFC A29), not the file paths our config has.
  return {
    name: b.name,
    type: 'EDS',
    eds_cluster_config: { eds_config: adsSource() },
    connect_timeout: connectTimeout(b),
    lb_policy: 'ROUND_ROBIN',
    // Standard fields, so every xDS client reads the same intent (xds/balancing-policy.ts).
    ...balancingClusterFields(b.balancing),
    metadata: backendMetadata(b),
    lrs_server: LRS_SELF,
  };
}

function httpCluster(b: Backend, t: HttpTarget): PlainMessage {
  const literal = isIP(t.host) !== 0;
  return {
    name: b.name,
    // STATIC requires IP addresses; LOGICAL_DNS resolves a name and uses the first answer.
    type: literal ? 'STATIC' : 'LOGICAL_DNS',
    connect_timeout: connectTimeout(b),
    lb_policy: 'ROUND_ROBIN',
    load_assignment: loadAssignment(b.name, [{ address: t.host, port: t.port }]),
    ...(t.scheme === 'https' || b.tls.enabled ? { transport_socket: upstreamTls(b, t) } : {}),
    metadata: backendMetadata(b),
    lrs_server: LRS_SELF,
  };
}

function upstreamTls(b: Backend, t: HttpTarget): PlainMessage {
  const tls = b.tls;
  const serverName = tls.serverName || (isIP(t.host) ? '' : t.host);
  const verifyName = tls.serverName || t.host;
  const common: PlainMessage = {};
  if (tls.certPath && tls.keyPath) {
    common['tls_certificates'] = [
      { certificate_chain: { filename: tls.certPath }, private_key: { filename: tls.keyPath } },
    ];
  }
  if (!tls.insecureSkipVerify) {
    // Envoy verifies nothing without a validation context, and checks the chain but not the
    // host name unless SANs are matched: spell both out to get what a TLS client normally does.
    common['validation_context'] = {
      ...(tls.caPath ? { trusted_ca: { filename: tls.caPath } } : { system_root_certs: {} }),
      match_typed_subject_alt_names: [
        { san_type: isIP(verifyName) ? 'IP_ADDRESS' : 'DNS', matcher: { exact: verifyName } },
      ],
    };
  }
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': UPSTREAM_TLS_TYPE_URL,
      ...(serverName ? { sni: serverName } : {}),
      common_tls_context: common,
    },
  };
}

function hcm(statPrefix: string, routeSpecifier: PlainMessage, filters: PlainMessage[] = []): PlainMessage {
  return { '@type': HCM_TYPE_URL, stat_prefix: statPrefix, ...routeSpecifier, http_filters: [...filters, routerFilter()] };
}

function gatewayListener(l: ListenerSpec, auth: AuthFilterConfig | undefined, redact = false): PlainMessage {
  const filter = {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: hcm(l.name, { rds: { config_source: adsSource(), route_config_name: l.name } }, auth ? [authHttpFilter(auth, redact)] : []),
  };
  return { name: l.name, address: socketAddress(l.address, l.port), filter_chains: [{ filters: [filter] }] };
}

/** What `xds:///<backend>` resolves to in a gRPC client: all paths to the backend's cluster. */
function apiListener(b: Backend): PlainMessage {
  // gRPC takes its per-call deadline from max_stream_duration (gRFC A31), not from `timeout`.
  const route = {
    cluster: b.name,
    ...(b.timeoutMs > 0 ? { max_stream_duration: { max_stream_duration: duration(b.timeoutMs) } } : {}),
  };
  const routeConfig = {
    name: b.name,
    virtual_hosts: [{ name: b.name, domains: ['*'], routes: [{ name: 'all', match: { prefix: '' }, route }] }],
  };
  return { name: b.name, api_listener: { api_listener: hcm(b.name, { route_config: routeConfig }) } };
}

/**
 * Envoy takes the first route that matches (route.proto VirtualHost.routes). Our rule is "exact
 * first, then longest prefix": exact paths first, then prefixes by decreasing length (equal-length
 * prefixes cannot both match one path; sorted by text for determinism). A repeated match keeps
 * its first rule, as the data plane's table lookup does.
 */
export function orderRoutes(routes: readonly RouteRule[]): RouteRule[] {
  const seen = new Set<string>();
  const unique = routes.filter((r) => {
    const key = `${r.match} ${r.path}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const exact = unique.filter((r) => r.match === 'exact').sort((a, b) => cmp(a.path, b.path));
  const prefix = unique
    .filter((r) => r.match === 'prefix')
    .sort((a, b) => b.path.length - a.path.length || cmp(a.path, b.path));
  return [...exact, ...prefix];
}


function routeConfiguration(
  name: string,
  routes: readonly RouteRule[],
  backends: ReadonlyMap<BackendName, Backend>,
  withScopes: boolean,
): PlainMessage {
  const envoyRoutes = routes.map((r) => {
    const match = r.match === 'exact' ? { path: r.path } : { prefix: r.path };
    const b = backends.get(r.backend);
    // timeout 0 (an empty Duration, explicitly set) disables Envoy's 15 s default, like timeoutMs 0.
    const action = b
      ? { route: { cluster: b.name, timeout: duration(b.timeoutMs) } }
      : { direct_response: { status: 503, body: { inline_string: unsetBackendMessage(r.backend) } } };
    const scopes = withScopes ? { metadata: routeScopeMetadata(r.scopes ?? ADMIN_SCOPES) } : {};
    return { name: `${r.match}:${r.path}`, match, ...action, ...scopes };
  });
  return { name, virtual_hosts: [{ name, domains: ['*'], routes: envoyRoutes }] };
}
