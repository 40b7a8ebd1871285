import { loadEnvoyService, type AdsServiceDefinition, type NodeMessage } from './ads-service.js';

// envoy.service.load_stats.v3.LoadReportingService (envoy/service/load_stats/v3/lrs.proto,
// envoy/config/endpoint/v3/load_report.proto): the message shapes as proto-loader decodes them
// (uint64 as decimal strings), for the control plane's server and the gateway's client alike.

export const LRS_SERVICE_NAME = 'envoy.service.load_stats.v3.LoadReportingService';

/** google.protobuf.Duration; seconds is an int64, a string when decoded. */
export interface DurationMessage {
  readonly seconds: string | number;
  readonly nanos: number;
}

/** uint64 counters: strings when decoded, numbers accepted when encoding. */
type Count = string | number;

export interface SocketAddressMessage {
  readonly address: string;
  readonly port_value: number;
}

export interface UpstreamEndpointStatsMessage {
  readonly address: { readonly socket_address: SocketAddressMessage | null } | null;
  readonly total_successful_requests: Count;
  readonly total_requests_in_progress: Count;
  readonly total_error_requests: Count;
  readonly total_issued_requests: Count;
  /** Named metrics (load_report.proto EndpointLoadMetricStats); we send OUTLIER_EJECTED_METRIC. */
  readonly load_metric_stats?: readonly EndpointLoadMetricStatsMessage[];
}

export interface EndpointLoadMetricStatsMessage {
  readonly metric_name: string;
  readonly num_requests_finished_with_metric: Count;
  readonly total_metric_value: number;
}

/**
 * Per-endpoint load metric a gateway sends while its outlier detection ejects that endpoint (value 1),
 * so the control plane can show "ejected by k of n gateways". A standard field rather than a side
 * channel: LRS already carries every endpoint per gateway, and other clients simply never send it.
 */
export const OUTLIER_EJECTED_METRIC = 'metrics_gateway.outlier_ejected';

export interface UpstreamLocalityStatsMessage {
  readonly locality: { readonly region: string; readonly zone: string; readonly sub_zone: string } | null;
  readonly total_successful_requests: Count;
  readonly total_requests_in_progress: Count;
  readonly total_error_requests: Count;
  readonly total_issued_requests: Count;
  readonly upstream_endpoint_stats: readonly UpstreamEndpointStatsMessage[];
}

export interface ClusterStatsMessage {
  readonly cluster_name: string;
  readonly cluster_service_name: string;
  readonly upstream_locality_stats: readonly UpstreamLocalityStatsMessage[];
  readonly total_dropped_requests: Count;
  readonly load_report_interval: DurationMessage | null;
}

export interface LoadStatsRequestMessage {
  readonly node: NodeMessage | null;
  readonly cluster_stats: readonly ClusterStatsMessage[];
}

export interface LoadStatsResponseMessage {
  readonly clusters: readonly string[];
  readonly send_all_clusters: boolean;
  readonly load_reporting_interval: DurationMessage | null;
  readonly report_endpoint_granularity: boolean;
}

let loaded: AdsServiceDefinition | undefined;

export function loadLrsService(): AdsServiceDefinition {
  loaded ??= loadEnvoyService('envoy/service/load_stats/v3/lrs.proto', LRS_SERVICE_NAME);
  return loaded;
}

export function durationMs(d: DurationMessage | null): number {
  return d === null ? 0 : Number(d.seconds) * 1000 + Math.round(d.nanos / 1e6);
}

export function msDuration(ms: number): DurationMessage {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}
