// A backend's balancing as the standard Cluster fields say it, both ways: the control plane writes
// `outlier_detection` and `load_balancing_policy`, the data plane reads them back. Standard fields
// (not our metadata), so Envoy, gRPC proxyless clients and our gateways all read the same intent.

import { OUTLIER_DURATIONS, outlierSettings, ZONE_AWARE_DEFAULTS, type BalancingPolicy, type LoadBalancing, type OutlierDetectionSettings, type ZoneAwareSettings } from '../core/balancing.js';
import type { DecodedDuration } from './decoded.js';
import type { PlainMessage } from './protos.js';

export const LEAST_REQUEST_TYPE_URL = 'type.googleapis.com/envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest';
export const ROUND_ROBIN_TYPE_URL = 'type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin';

/** google.protobuf.Duration; zero parts left out so equal durations encode equally. */
export function protoDuration(ms: number): PlainMessage {
  const whole = Math.max(0, Math.round(ms));
  const seconds = Math.floor(whole / 1000);
  const nanos = (whole % 1000) * 1_000_000;
  return { ...(seconds ? { seconds } : {}), ...(nanos ? { nanos } : {}) };
}

const u32 = (value: number): PlainMessage => ({ value });

/**
 * The Cluster fields for a policy. Round robin is the proto default (`lb_policy` ROUND_ROBIN), so it
 * adds nothing. Least request is a `load_balancing_policy` list, not `lb_policy: LEAST_REQUEST`:
 * grpc-js-xds NACKs that enum value, while from a list each client takes the first entry it
 * supports (cluster.proto LoadBalancingPolicy; gRFC A52), so gRPC falls back to round_robin.
 */
export function balancingClusterFields(policy: BalancingPolicy | undefined): PlainMessage {
  if (policy === undefined) return {};
  const out: PlainMessage = {};
  const za = policy.zoneAware === undefined ? undefined : zoneAwareConfig(policy.zoneAware);
  if (policy.loadBalancing === 'least_request') {
    // With a policy list Envoy reads the typed policy's locality_lb_config, not common_lb_config.
    const locality = za ? { locality_lb_config: { zone_aware_lb_config: za } } : {};
    out['load_balancing_policy'] = {
      policies: [
        {
          typed_extension_config: {
            name: 'envoy.load_balancing_policies.least_request',
            typed_config: { '@type': LEAST_REQUEST_TYPE_URL, choice_count: u32(2), ...locality },
          },
        },
        { typed_extension_config: { name: 'envoy.load_balancing_policies.round_robin', typed_config: { '@type': ROUND_ROBIN_TYPE_URL, ...locality } } },
      ],
    };
  } else if (za) out['common_lb_config'] = { zone_aware_lb_config: za };
  const od = policy.outlierDetection;
  if (od !== undefined) {
    // Every field spelled out, defaults included: clients differ in what they assume when one is
    // absent (gRPC: success rate off unless enforcing_success_rate is set... and so on).
    out['outlier_detection'] = {
      consecutive_5xx: u32(od.consecutive_5xx),
      interval: protoDuration(od.interval_ms),
      base_ejection_time: protoDuration(od.base_ejection_time_ms),
      max_ejection_percent: u32(od.max_ejection_percent),
      enforcing_consecutive_5xx: u32(od.enforcing_consecutive_5xx),
      enforcing_success_rate: u32(od.enforcing_success_rate),
      success_rate_minimum_hosts: u32(od.success_rate_minimum_hosts),
      success_rate_request_volume: u32(od.success_rate_request_volume),
      success_rate_stdev_factor: u32(od.success_rate_stdev_factor),
      consecutive_gateway_failure: u32(od.consecutive_gateway_failure),
      enforcing_consecutive_gateway_failure: u32(od.enforcing_consecutive_gateway_failure),
      failure_percentage_threshold: u32(od.failure_percentage_threshold),
      enforcing_failure_percentage: u32(od.enforcing_failure_percentage),
      failure_percentage_minimum_hosts: u32(od.failure_percentage_minimum_hosts),
      failure_percentage_request_volume: u32(od.failure_percentage_request_volume),
      max_ejection_time: protoDuration(od.max_ejection_time_ms),
      ...(od.always_eject_one_host ? { always_eject_one_host: { value: true } } : {}),
    };
  }
  return out;
}

/** ZoneAwareLbConfig (the same fields in Cluster.CommonLbConfig and common.v3.LocalityLbConfig). */
function zoneAwareConfig(z: ZoneAwareSettings): PlainMessage {
  return {
    routing_enabled: { value: z.routingEnabled },
    min_cluster_size: { value: z.minClusterSize },
    ...(z.failTrafficOnPanic ? { fail_traffic_on_panic: true } : {}),
  };
}

interface DecodedZoneAware {
  readonly routing_enabled?: { readonly value?: number };
  readonly min_cluster_size?: { readonly value?: number | string };
  readonly fail_traffic_on_panic?: boolean;
}

function zoneAwareFrom(d: DecodedZoneAware | undefined): ZoneAwareSettings | undefined {
  if (d === undefined) return undefined;
  return {
    routingEnabled: d.routing_enabled === undefined ? ZONE_AWARE_DEFAULTS.routingEnabled : (d.routing_enabled.value ?? 0),
    minClusterSize: d.min_cluster_size === undefined ? ZONE_AWARE_DEFAULTS.minClusterSize : Number(d.min_cluster_size.value ?? 0),
    failTrafficOnPanic: d.fail_traffic_on_panic === true,
  };
}

interface DecodedU32 {
  readonly value?: number;
}
type DecodedOutlier = Readonly<Record<string, DecodedU32 | DecodedDuration | boolean | undefined>>;

/** The part of a decoded Cluster this module reads. */
export interface BalancingFields {
  readonly lb_policy?: string;
  readonly load_balancing_policy?: {
    readonly policies?: readonly {
      readonly typed_extension_config?: { readonly typed_config?: { readonly '@type'?: string; readonly locality_lb_config?: { readonly zone_aware_lb_config?: DecodedZoneAware } } };
    }[];
  };
  readonly common_lb_config?: { readonly zone_aware_lb_config?: DecodedZoneAware };
  readonly outlier_detection?: DecodedOutlier;
}

function ms(d: DecodedDuration): number {
  return Number(d.seconds ?? 0) * 1000 + Math.round(Number(d.nanos ?? 0) / 1e6);
}

/**
 * The policy a decoded Cluster asks for, as a reader that supports round robin and least request:
 * the first list entry it knows (gRFC A52's rule), else `lb_policy`. Absent outlier_detection
 * fields take Envoy's defaults (outlier_detection.proto).
 */
export function balancingFromCluster(c: BalancingFields): BalancingPolicy {
  let loadBalancing: LoadBalancing = c.lb_policy === 'LEAST_REQUEST' ? 'least_request' : 'round_robin';
  let zoneAware = zoneAwareFrom(c.common_lb_config?.zone_aware_lb_config);
  for (const p of c.load_balancing_policy?.policies ?? []) {
    const tc = p.typed_extension_config?.typed_config;
    const t = tc?.['@type'];
    if (t === LEAST_REQUEST_TYPE_URL || t === ROUND_ROBIN_TYPE_URL) {
      loadBalancing = t === LEAST_REQUEST_TYPE_URL ? 'least_request' : 'round_robin';
      zoneAware = zoneAwareFrom(tc?.locality_lb_config?.zone_aware_lb_config);
      break;
    }
  }
  const za = zoneAware ? { zoneAware } : {};
  const od = c.outlier_detection;
  if (od === undefined) return { loadBalancing, ...za };
  const value = (name: string): number | undefined => {
    const v = od[name];
    if (v === undefined || typeof v === 'boolean') return undefined;
    // A wrapper that is present but empty holds 0 (proto3 leaves the default out of the encoding).
    return OUTLIER_DURATIONS.has(name) ? ms(v as DecodedDuration) : ((v as DecodedU32).value ?? 0);
  };
  const read = outlierSettings(value, (od['always_eject_one_host'] as { value?: boolean } | undefined)?.value === true);
  // Envoy: max_ejection_time defaults to 300 s or base_ejection_time, whichever is larger.
  const outlierDetection: OutlierDetectionSettings = { ...read, max_ejection_time_ms: Math.max(read.max_ejection_time_ms, read.base_ejection_time_ms) };
  return { loadBalancing, outlierDetection, ...za };
}
