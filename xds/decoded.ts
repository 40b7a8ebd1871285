// The fields of decoded Envoy v3 resources that the gateway reads, as `decodeResource` returns
// them (snake_case, enums as strings, int64 as strings, Any expanded to {'@type', ...fields}).
// Only what the data plane looks at is typed; everything else stays reachable as `unknown`.

import type { BalancingFields } from './balancing-policy.js';

import { HCM_TYPE_URL } from './resource.js';

/** google.protobuf.Duration in proto3 JSON-like form (int64 seconds decode as strings). */
export interface DecodedDuration {
  readonly seconds?: string | number;
  readonly nanos?: number;
}

/** google.protobuf.Struct as protobufjs's bundled well-known type decodes it (camelCase). */
export interface DecodedStruct {
  readonly fields?: Readonly<Record<string, DecodedStructValue>>;
}

export interface DecodedStructValue {
  readonly nullValue?: string;
  readonly numberValue?: number;
  readonly stringValue?: string;
  readonly boolValue?: boolean;
  readonly structValue?: DecodedStruct;
  readonly listValue?: { readonly values?: readonly DecodedStructValue[] };
}

export interface DecodedSocketAddress {
  readonly address?: string;
  readonly port_value?: number;
}

export interface DecodedAddress {
  readonly socket_address?: DecodedSocketAddress;
}

/** envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager */
export interface DecodedHttpConnectionManager {
  readonly '@type'?: string;
  readonly stat_prefix?: string;
  readonly rds?: { readonly route_config_name?: string; readonly config_source?: unknown };
  readonly route_config?: DecodedRouteConfiguration;
  readonly http_filters?: readonly unknown[];
}

export interface DecodedFilter {
  readonly name?: string;
  readonly typed_config?: { readonly '@type'?: string } & Readonly<Record<string, unknown>>;
}

export interface DecodedFilterChain {
  readonly filters?: readonly DecodedFilter[];
}

export interface DecodedListener {
  readonly name: string;
  readonly address?: DecodedAddress;
  readonly filter_chains?: readonly DecodedFilterChain[];
  readonly default_filter_chain?: DecodedFilterChain;
  readonly api_listener?: { readonly api_listener?: { readonly '@type'?: string } & Readonly<Record<string, unknown>> };
}

export interface DecodedRouteAction {
  readonly cluster?: string;
  readonly timeout?: DecodedDuration;
}

export interface DecodedRoute {
  readonly name?: string;
  readonly match?: { readonly prefix?: string; readonly path?: string; readonly safe_regex?: unknown };
  readonly route?: DecodedRouteAction;
  readonly direct_response?: { readonly status?: number; readonly body?: { readonly inline_string?: string } };
  /** Our routes name the scopes they need here (xds/auth-filter.ts). */
  readonly metadata?: { readonly filter_metadata?: Readonly<Record<string, DecodedStruct>> };
}

export interface DecodedVirtualHost {
  readonly name?: string;
  readonly domains?: readonly string[];
  readonly routes?: readonly DecodedRoute[];
}

export interface DecodedRouteConfiguration {
  readonly name: string;
  readonly virtual_hosts?: readonly DecodedVirtualHost[];
}

export interface DecodedLbEndpoint {
  readonly endpoint?: { readonly address?: DecodedAddress };
  readonly health_status?: string;
  readonly load_balancing_weight?: { readonly value?: number };
}

export interface DecodedLocalityLbEndpoints {
  readonly locality?: { readonly region?: string; readonly zone?: string; readonly sub_zone?: string };
  readonly lb_endpoints?: readonly DecodedLbEndpoint[];
  readonly load_balancing_weight?: { readonly value?: number };
  readonly priority?: number;
  readonly metadata?: { readonly filter_metadata?: Readonly<Record<string, DecodedStruct>> };
}

export interface DecodedClusterLoadAssignment {
  readonly cluster_name: string;
  readonly endpoints?: readonly DecodedLocalityLbEndpoints[];
}

export interface DecodedCluster extends BalancingFields {
  readonly name: string;
  /** 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'EDS' | 'ORIGINAL_DST' (absent: STATIC, the proto default). */
  readonly type?: string;
  readonly eds_cluster_config?: { readonly service_name?: string; readonly eds_config?: unknown };
  readonly connect_timeout?: DecodedDuration;
  readonly lb_policy?: string;
  readonly load_assignment?: DecodedClusterLoadAssignment;
  readonly transport_socket?: unknown;
  readonly metadata?: { readonly filter_metadata?: Readonly<Record<string, DecodedStruct>> };
}

/**
 * Route configuration names a listener's HttpConnectionManagers fetch over RDS: the api_listener's
 * and every network filter's (filter chains and the default chain). Inline `route_config`s need
 * no subscription.
 */
export function rdsNamesOf(listener: DecodedListener): string[] {
  const names: string[] = [];
  const add = (hcm: unknown): void => {
    if (!hcm || typeof hcm !== 'object') return;
    const h = hcm as DecodedHttpConnectionManager;
    if (h['@type'] !== HCM_TYPE_URL) return;
    const name = h.rds?.route_config_name;
    if (name) names.push(name);
  };
  add(listener.api_listener?.api_listener);
  const chains = [...(listener.filter_chains ?? []), ...(listener.default_filter_chain ? [listener.default_filter_chain] : [])];
  for (const chain of chains) for (const f of chain.filters ?? []) add(f.typed_config);
  return names;
}

/** The ClusterLoadAssignment name an EDS cluster asks for (cluster.proto EdsClusterConfig.service_name). */
export function edsNameOf(cluster: DecodedCluster): string | undefined {
  if (cluster.type !== 'EDS') return undefined;
  return cluster.eds_cluster_config?.service_name || cluster.name;
}
