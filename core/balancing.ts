// How a gateway balances over a backend's endpoints: the policy (round robin or least request) and
// Envoy's outlier detection. Shared by both planes: the control plane fills it from config and
// writes the standard Cluster fields (xds/balancing-policy.ts), the data plane reads those fields
// back into the same value.

export const LOAD_BALANCING = ['round_robin', 'least_request'] as const;
export type LoadBalancing = (typeof LOAD_BALANCING)[number];

/**
 * envoy.config.cluster.v3.OutlierDetection, the fields we implement, durations in milliseconds.
 * Percentages are 0..100; success_rate_stdev_factor is in thousandths as in Envoy (1900 = 1.9).
 */
export interface OutlierDetectionSettings {
  readonly consecutive_5xx: number;
  readonly consecutive_gateway_failure: number;
  readonly interval_ms: number;
  readonly base_ejection_time_ms: number;
  readonly max_ejection_time_ms: number;
  readonly max_ejection_percent: number;
  readonly enforcing_consecutive_5xx: number;
  readonly enforcing_consecutive_gateway_failure: number;
  readonly enforcing_success_rate: number;
  readonly success_rate_minimum_hosts: number;
  readonly success_rate_request_volume: number;
  readonly success_rate_stdev_factor: number;
  readonly enforcing_failure_percentage: number;
  readonly failure_percentage_threshold: number;
  readonly failure_percentage_minimum_hosts: number;
  readonly failure_percentage_request_volume: number;
  readonly always_eject_one_host: boolean;
}

/** Envoy's defaults (outlier_detection.proto), which gRFC A50 keeps for gRPC clients. */
export const OUTLIER_DEFAULTS: OutlierDetectionSettings = {
  consecutive_5xx: 5,
  consecutive_gateway_failure: 5,
  interval_ms: 10_000,
  base_ejection_time_ms: 30_000,
  max_ejection_time_ms: 300_000,
  max_ejection_percent: 10,
  enforcing_consecutive_5xx: 100,
  enforcing_consecutive_gateway_failure: 0,
  enforcing_success_rate: 100,
  success_rate_minimum_hosts: 5,
  success_rate_request_volume: 100,
  success_rate_stdev_factor: 1900,
  enforcing_failure_percentage: 0,
  failure_percentage_threshold: 85,
  failure_percentage_minimum_hosts: 5,
  failure_percentage_request_volume: 50,
  always_eject_one_host: false,
};

/** Settings fields by their Envoy (and YAML) name; durations are the `*_ms` fields. */
const ENVOY_NAMES: ReadonlyArray<readonly [Exclude<keyof OutlierDetectionSettings, 'always_eject_one_host'>, string]> = (
  Object.keys(OUTLIER_DEFAULTS) as (keyof OutlierDetectionSettings)[]
)
  .filter((k): k is Exclude<keyof OutlierDetectionSettings, 'always_eject_one_host'> => k !== 'always_eject_one_host')
  .map((k) => [k, k.endsWith('_ms') ? k.slice(0, -3) : k] as const);

/** Envoy field names that are durations (google.protobuf.Duration; YAML durations). */
export const OUTLIER_DURATIONS: ReadonlySet<string> = new Set(ENVOY_NAMES.filter(([k]) => k.endsWith('_ms')).map(([, n]) => n));

/**
 * Settings from any source that names fields as Envoy does (a YAML block, a decoded Cluster):
 * `get(name)` gives the number (milliseconds for durations) or undefined for Envoy's default.
 */
export function outlierSettings(get: (envoyName: string) => number | undefined, alwaysEjectOneHost: boolean): OutlierDetectionSettings {
  const out: Record<string, number | boolean> = { always_eject_one_host: alwaysEjectOneHost };
  for (const [key, name] of ENVOY_NAMES) out[key] = get(name) ?? OUTLIER_DEFAULTS[key];
  return out as unknown as OutlierDetectionSettings;
}

/**
 * Envoy's ZoneAwareLbConfig (extensions/load_balancing_policies/common/v3/common.proto; the same
 * fields as Cluster.CommonLbConfig.ZoneAwareLbConfig), with Envoy's defaults.
 */
export interface ZoneAwareSettings {
  /** Percent of requests that are zone-aware at all (`routing_enabled`, default 100). */
  readonly routingEnabled: number;
  /** Below this many healthy endpoints in all, balance over all (`min_cluster_size`, default 6). */
  readonly minClusterSize: number;
  /** In panic (every endpoint ejected) fail requests instead of using them all (`fail_traffic_on_panic`, default false). */
  readonly failTrafficOnPanic: boolean;
}

export const ZONE_AWARE_DEFAULTS: ZoneAwareSettings = { routingEnabled: 100, minClusterSize: 6, failTrafficOnPanic: false };

export interface BalancingPolicy {
  readonly loadBalancing: LoadBalancing;
  /** Undefined: no outlier detection (Envoy: the message is absent). */
  readonly outlierDetection?: OutlierDetectionSettings;
  /** Zone-aware routing settings (backends with zones); undefined: Envoy's defaults. */
  readonly zoneAware?: ZoneAwareSettings;
}

export const PLAIN_ROUND_ROBIN: BalancingPolicy = { loadBalancing: 'round_robin' };
