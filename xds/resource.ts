// The unit the xDS cache and servers handle: one named, already-encoded Envoy v3 resource.
// Servers never look inside `value`; translation produces these, the data plane decodes them.

export const TYPE_URL = {
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
} as const;

export type TypeUrl = (typeof TYPE_URL)[keyof typeof TYPE_URL];

/** Type URLs of the extensions our resources carry inside `typed_config` Anys. */
export const HCM_TYPE_URL =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const ROUTER_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
export const UPSTREAM_TLS_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';

/**
 * ADS push order (envoy xds_protocol.rst, "Eventual consistency considerations"):
 * CDS, then EDS, then LDS, then RDS; removals after additions.
 */
export const TYPE_ORDER: readonly TypeUrl[] = [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener, TYPE_URL.route];

/** Resources of these types are requested by wildcard when a client names none (LDS and CDS). */
export const WILDCARD_TYPES: ReadonlySet<string> = new Set([TYPE_URL.cluster, TYPE_URL.listener]);

export interface ResourceRef {
  readonly typeUrl: TypeUrl;
  readonly names: readonly string[];
}

export interface XdsResource {
  readonly name: string;
  readonly typeUrl: TypeUrl;
  /** The resource encoded as its own proto message: the `value` of its `google.protobuf.Any`. */
  readonly value: Uint8Array;
  /** Resources this one names and that must exist in the same snapshot (consistency check). */
  readonly refs: readonly ResourceRef[];
  /** Plain-object (proto3 JSON-like) view, for config dumps and logs. */
  readonly view: unknown;
}

/** `type.googleapis.com/envoy.config.cluster.v3.Cluster` → `Cluster`, for messages. */
export function shortType(typeUrl: string): string {
  const i = typeUrl.lastIndexOf('.');
  return i >= 0 ? typeUrl.slice(i + 1) : typeUrl;
}

const TYPE_LABEL: ReadonlyMap<string, string> = new Map([
  [TYPE_URL.cluster, 'cds'],
  [TYPE_URL.endpoint, 'eds'],
  [TYPE_URL.listener, 'lds'],
  [TYPE_URL.route, 'rds'],
]);

/** Metric label for a type URL; anything a client made up is 'other', so cardinality stays bounded. */
export function typeLabel(typeUrl: string): string {
  return TYPE_LABEL.get(typeUrl) ?? 'other';
}
