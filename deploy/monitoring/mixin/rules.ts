// Recording and alerting rules, mixin style: recording rules for what the dashboards aggregate (so
// panels stay cheap over a large fleet), alerts on those, each with a runbook and a promtool test
// (deploy/monitoring/tests/). Written out by generate.ts.

import { mixinConfig as c } from './config.js';

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
}

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: { readonly severity: 'critical' | 'warning' };
  readonly annotations: { readonly summary: string; readonly description: string; readonly runbook_url: string };
}

const sumRate = (by: string, metric: string): string => `sum by (${by}) (rate(${metric}[${c.rateWindow}]))`;

/** Names of the recorded series, for the dashboards and alerts. */
export const R = {
  requests: 'job_backend_route_status_code:metrics_gateway_request_duration_seconds_count:sum_rate',
  latencyBucket: 'job_backend_route:metrics_gateway_request_duration_seconds_bucket:sum_rate',
  latencySum: 'job_backend_route:metrics_gateway_request_duration_seconds_sum:sum_rate',
  latencyCount: 'job_backend_route:metrics_gateway_request_duration_seconds_count:sum_rate',
  latencyP99: 'job_backend_route:metrics_gateway_request_duration_seconds:99quantile',
  latencyP50: 'job_backend_route:metrics_gateway_request_duration_seconds:50quantile',
  endpointRequests: 'job_backend_endpoint:metrics_gateway_httpgrpc_requests_total:sum_rate',
  httpgrpcErrors: 'job_backend_reason:metrics_gateway_httpgrpc_errors_total:sum_rate',
  upstreamErrors: 'job_backend_reason:metrics_gateway_upstream_errors_total:sum_rate',
  outOfSync: 'type:metrics_gateway_xds_out_of_sync_gateways:count',
  pushBucket: 'job_type:control_plane_xds_push_duration_seconds_bucket:sum_rate',
  pushP99: 'job_type:control_plane_xds_push_duration_seconds:99quantile',
  buildP99: 'job:control_plane_snapshot_build_seconds:99quantile',
  authRequests: 'job_reason:metrics_gateway_auth_requests_total:sum_rate',
  zoneBytes: 'job_backend_from_zone_to_zone:metrics_gateway_httpgrpc_zone_bytes_total:sum_rate',
  crossZoneShare: 'job_backend:metrics_gateway_httpgrpc_cross_zone_bytes:ratio_rate',
} as const;

/** A gateway whose applied version of a type is served by no control plane. */
const staleGateways = `max by (${c.instance}, type, version) (metrics_gateway_xds_applied_version_info) unless on (type, version) control_plane_snapshot_version_info`;

export const recordingRules: readonly RecordingRule[] = [
  { record: R.requests, expr: sumRate('job, backend, route, status_code', 'metrics_gateway_request_duration_seconds_count') },
  { record: R.latencyBucket, expr: sumRate('job, backend, route, le', 'metrics_gateway_request_duration_seconds_bucket') },
  { record: R.latencySum, expr: sumRate('job, backend, route', 'metrics_gateway_request_duration_seconds_sum') },
  { record: R.latencyCount, expr: sumRate('job, backend, route', 'metrics_gateway_request_duration_seconds_count') },
  { record: R.latencyP99, expr: `histogram_quantile(0.99, ${R.latencyBucket})` },
  { record: R.latencyP50, expr: `histogram_quantile(0.50, ${R.latencyBucket})` },
  { record: R.endpointRequests, expr: sumRate('job, backend, endpoint', 'metrics_gateway_httpgrpc_requests_total') },
  { record: R.httpgrpcErrors, expr: sumRate('job, backend, reason', 'metrics_gateway_httpgrpc_errors_total') },
  { record: R.upstreamErrors, expr: sumRate('job, backend, reason', 'metrics_gateway_upstream_errors_total') },
  // 0 rather than nothing for a type every gateway has in sync, so the panel shows a line at 0.
  { record: R.outOfSync, expr: `count by (type) (${staleGateways}) or count by (type) (metrics_gateway_xds_applied_version_info) * 0` },
  { record: R.pushBucket, expr: sumRate('job, type, le', 'control_plane_xds_push_duration_seconds_bucket') },
  { record: R.pushP99, expr: `histogram_quantile(0.99, ${R.pushBucket})` },
  { record: R.buildP99, expr: `histogram_quantile(0.99, ${sumRate('job, le', 'control_plane_snapshot_build_seconds_bucket')})` },
  { record: R.authRequests, expr: sumRate('job, reason', 'metrics_gateway_auth_requests_total') },
  // Zone-aware balancing: bytes from gateways in one zone to endpoints in another (both directions),
  // and the share of all zoned bytes that crossed a zone (what the provider bills).
  { record: R.zoneBytes, expr: sumRate('job, backend, from_zone, to_zone', 'metrics_gateway_httpgrpc_zone_bytes_total') },
  {
    record: R.crossZoneShare,
    expr: `${sumRate('job, backend', 'metrics_gateway_httpgrpc_zone_bytes_total{cross_zone="true"}')} / ${sumRate('job, backend', 'metrics_gateway_httpgrpc_zone_bytes_total')}`,
  },
];

/** Authentication outcomes that say the credentials are wrong (not a missing scope, which is a policy answer). */
const AUTH_REFUSED = 'missing|malformed|unknown_token|wrong_secret|wrong_tenant|expired|throttled';

const runbook = (alert: string): string => `${c.runbookUrl}#${alert.toLowerCase()}`;

function alert(name: string, severity: 'critical' | 'warning', forDuration: string, expr: string, summary: string, description: string): AlertRule {
  return { alert: name, expr, for: forDuration, labels: { severity }, annotations: { summary, description, runbook_url: runbook(name) } };
}

export const alertRules: readonly AlertRule[] = [
  alert(
    'MetricsGatewayRequestErrors',
    'critical',
    '15m',
    `100 * sum by (job, backend) (${R.requests}{status_code=~"5.."}) / sum by (job, backend) (${R.requests}) > ${c.requestErrorsPercent}`,
    'Gateway requests to a backend fail with 5xx.',
    `{{ $labels.job }}: {{ printf "%.2f" $value }}% of requests to backend {{ $labels.backend }} are answered 5xx (threshold ${c.requestErrorsPercent}%).`,
  ),
  alert(
    'MetricsGatewayEndpointNoTraffic',
    'warning',
    '15m',
    `sum by (job, backend, endpoint) (${R.endpointRequests}) == 0 and on (job, backend) sum by (job, backend) (${R.endpointRequests}) > ${c.endpointNoTrafficMinBackendRps}`,
    'An httpgrpc endpoint gets no requests while the others of its backend do.',
    '{{ $labels.job }}: endpoint {{ $labels.endpoint }} of backend {{ $labels.backend }} got no request for 15 minutes while the backend is busy.',
  ),
  alert(
    'MetricsGatewayXdsRejected',
    'warning',
    '1m',
    `sum by (${c.instance}, type) (increase(metrics_gateway_xds_nacks_total[5m])) > 0`,
    'A gateway rejected (NACKed) configuration from the control plane.',
    '{{ $labels.instance }} rejected a {{ $labels.type }} update; it keeps serving its previous configuration.',
  ),
  alert(
    'MetricsGatewayXdsOutOfSync',
    'warning',
    '10m',
    staleGateways,
    'A gateway serves a configuration version no control plane publishes.',
    '{{ $labels.instance }} has applied {{ $labels.type }} version {{ $labels.version }}, which no control plane serves.',
  ),
  alert(
    'MetricsGatewayControlPlaneReplicasDisagree',
    'warning',
    '10m',
    'count by (job, type) (count by (job, type, version) (control_plane_snapshot_version_info)) > 1',
    'Control-plane replicas publish different versions.',
    '{{ $labels.job }}: {{ $value }} different {{ $labels.type }} versions are published by the replicas of one control plane.',
  ),
  alert(
    'MetricsGatewayDnsFailing',
    'warning',
    '5m',
    `sum by (job, target) (rate(control_plane_dns_lookups_total{outcome!="ok"}[5m])) > 0 unless sum by (job, target) (rate(control_plane_dns_lookups_total{outcome="ok"}[5m])) > 0`,
    'DNS lookups of a dns:// backend fail.',
    '{{ $labels.job }}: every lookup of {{ $labels.target }} failed for 5 minutes; gateways keep the last good endpoints.',
  ),
  alert(
    'MetricsGatewayNoControlPlane',
    'critical',
    '5m',
    `max by (${c.instance}) (metrics_gateway_xds_connected) < 1`,
    'A gateway is connected to no control plane.',
    '{{ $labels.instance }} has had no xDS stream to any control plane for 5 minutes; it serves its last configuration and gets no changes.',
  ),
  alert(
    'MetricsGatewayConfigReloadFailing',
    'warning',
    '5m',
    `max by (${c.instance}) (control_plane_config_last_reload_successful) == 0`,
    'The control plane cannot load its config file.',
    '{{ $labels.instance }}: the last load of the config file failed; the previous configuration is still served.',
  ),
  alert(
    'MetricsGatewayAuthFailures',
    'warning',
    '15m',
    `100 * sum by (job) (${R.authRequests}{reason=~"${AUTH_REFUSED}"}) / sum by (job) (${R.authRequests}) > ${c.authFailuresPercent} and sum by (job) (${R.authRequests}) > ${c.authFailuresMinRps}`,
    'Many requests fail authentication.',
    `{{ $labels.job }}: {{ printf "%.1f" $value }}% of authenticated requests are refused (wrong, unknown, expired or missing credentials; threshold ${c.authFailuresPercent}%).`,
  ),
  alert(
    'MetricsGatewayTokensReloadFailing',
    'warning',
    '5m',
    `max by (${c.instance}) (control_plane_tokens_last_reload_successful) == 0`,
    'The control plane cannot load its tokens file.',
    '{{ $labels.instance }}: the last load of the tokens file failed; the previous token set is still enforced, so new and revoked tokens are not.',
  ),
  alert(
    'MetricsGatewayRolloutRolledBack',
    'warning',
    '1m',
    `max by (${c.instance}) (control_plane_rollout_rejected) > 0`,
    'A config or tokens change was rolled back by its canary rollout.',
    '{{ $labels.instance }}: the config or tokens file holds a change the canaries rejected (NACK or more failures than the rest of the fleet); the previous content is still served to every gateway.',
  ),
];
