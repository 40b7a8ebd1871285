// The fleet's dashboards. Add a panel by adding a PanelSpec to a row (its queries are then checked
// against a real Prometheus by test/monitoring-e2e.test.ts); aggregate through the recording rules
// of rules.ts where a panel sums over the fleet.

import { q, type DashboardSpec } from './grafana.js';
import { R } from './rules.js';

const rate = (metric: string): string => `rate(${metric}[$__rate_interval])`;
const increase = (metric: string): string => `increase(${metric}[$__rate_interval])`;

export const requestsDashboard: DashboardSpec = {
  uid: 'metrics-gateway-requests',
  title: 'Metrics gateway / Requests',
  description: 'Requests, errors and latency through the gateway fleet, per backend and route; the spread of httpgrpc requests over endpoints.',
  rows: [
    {
      title: 'Requests',
      panels: [
        { title: 'Requests by backend', description: 'Requests per second the fleet answered, by backend.', unit: 'reqps', queries: [q(`sum by (backend) (${R.requests})`, '{{backend}}')] },
        {
          title: 'Requests by status class',
          description: 'Requests per second by HTTP status class (the gateway\'s own answers included).',
          unit: 'reqps',
          queries: [q(`sum by (class) (label_replace(${R.requests}, "class", "\${1}xx", "status_code", "([0-9]).."))`, '{{class}}')],
        },
        {
          title: '5xx ratio by backend',
          description: 'Share of requests to each backend answered 5xx; MetricsGatewayRequestErrors fires above the threshold.',
          unit: 'percentunit',
          queries: [q(`(sum by (backend) (${R.requests}{status_code=~"5.."}) or sum by (backend) (${R.requests}) * 0) / sum by (backend) (${R.requests})`, '{{backend}}')],
        },
        {
          title: 'Requests by route',
          description: 'Requests per second by route (the routing table entry that matched) and backend.',
          unit: 'reqps',
          width: 12,
          queries: [q(`sum by (backend, route) (${R.requests})`, '{{backend}} {{route}}')],
        },
        {
          title: '5xx ratio by route',
          description: 'Share of each route\'s requests answered 5xx.',
          unit: 'percentunit',
          width: 12,
          queries: [q(`(sum by (backend, route) (${R.requests}{status_code=~"5.."}) or sum by (backend, route) (${R.requests}) * 0) / sum by (backend, route) (${R.requests})`, '{{backend}} {{route}}')],
        },
      ],
    },
    {
      title: 'Latency',
      panels: [
        { title: 'p99 latency by backend', description: '99th percentile of request duration, by backend.', unit: 's', queries: [q(`histogram_quantile(0.99, sum by (backend, le) (${R.latencyBucket}))`, '{{backend}}')] },
        { title: 'p50 latency by backend', description: 'Median request duration, by backend.', unit: 's', queries: [q(`histogram_quantile(0.50, sum by (backend, le) (${R.latencyBucket}))`, '{{backend}}')] },
        {
          title: 'Average latency by backend',
          description: 'Mean request duration, by backend.',
          unit: 's',
          queries: [q(`sum by (backend) (${R.latencySum}) / sum by (backend) (${R.latencyCount})`, '{{backend}}')],
        },
        {
          title: 'p99 latency by route',
          description: '99th percentile of request duration per route (the worst gateway job).',
          unit: 's',
          width: 24,
          queries: [q(`max by (backend, route) (${R.latencyP99})`, '{{backend}} {{route}}'), q(`max by (backend, route) (${R.latencyP50})`, 'p50 {{backend}} {{route}}')],
        },
      ],
    },
    {
      title: 'httpgrpc endpoints',
      panels: [
        {
          title: 'Requests per endpoint',
          description: 'httpgrpc calls per second to each endpoint (retries included): round-robin per request spreads them evenly.',
          unit: 'reqps',
          queries: [q(`sum by (backend, endpoint) (${R.endpointRequests})`, '{{backend}} {{endpoint}}')],
        },
        {
          title: 'Spread over endpoints',
          description: 'Standard deviation of per-endpoint request rates over their mean, by backend: 0 is perfectly even.',
          unit: 'percentunit',
          queries: [q(`stddev by (backend) (sum by (backend, endpoint) (${R.endpointRequests})) / avg by (backend) (sum by (backend, endpoint) (${R.endpointRequests}))`, '{{backend}}')],
        },
        {
          title: 'In flight per endpoint',
          description: 'httpgrpc calls in flight per endpoint, over the fleet.',
          unit: 'short',
          queries: [q('sum by (backend, endpoint) (metrics_gateway_httpgrpc_in_flight_requests)', '{{backend}} {{endpoint}}')],
        },
        {
          title: 'Cross-zone share of bytes',
          description: 'Share of httpgrpc bytes (sent and received) between a gateway and an endpoint in different zones; zone-aware balancing keeps it near 0 while every zone has its share of endpoints.',
          unit: 'percentunit',
          queries: [q(`max by (backend) (${R.crossZoneShare})`, '{{backend}}')],
        },
        {
          title: 'Bytes zone → zone',
          description: 'httpgrpc bytes per second from gateways in from_zone to endpoints in to_zone (both directions).',
          unit: 'Bps',
          queries: [q(`sum by (backend, from_zone, to_zone) (${R.zoneBytes})`, '{{backend}} {{from_zone}} → {{to_zone}}')],
        },
      ],
    },
    {
      title: 'Authentication',
      panels: [
        {
          title: 'Authentication outcomes',
          description: 'Requests checked with -auth.type=token per second, by outcome (ok, missing, wrong_secret, unknown_token, wrong_tenant, expired, missing_scope, throttled). No tenant label: tenants are in debug logs only.',
          unit: 'reqps',
          queries: [q(`sum by (reason) (${R.authRequests})`, '{{reason}}')],
        },
        {
          title: 'Refused for their credentials',
          description: 'Share of authenticated requests refused for missing, wrong, unknown or expired credentials (403 for a missing scope not included); MetricsGatewayAuthFailures fires above the threshold.',
          unit: 'percentunit',
          queries: [
            q(
              `(sum by (job) (${R.authRequests}{reason=~"missing|malformed|unknown_token|wrong_secret|wrong_tenant|expired|throttled"}) or sum by (job) (${R.authRequests}) * 0) / sum by (job) (${R.authRequests})`,
              '{{job}}',
            ),
          ],
        },
        {
          title: 'Key derivations and tokens',
          description: 'scrypt runs per second (cache misses: once per token per -auth.cache-ttl, plus wrong secrets), and the tokens each gateway enforces.',
          unit: 'short',
          queries: [q(`sum by (job) (${rate('metrics_gateway_auth_kdf_runs_total')})`, 'KDF runs/s {{job}}'), q('max by (job) (metrics_gateway_auth_tokens)', 'tokens {{job}}')],
        },
      ],
    },
    {
      title: 'Upstream errors',
      panels: [
        {
          title: 'Upstream errors by reason',
          description: 'Requests that failed at the backend, by reason (refused, timeout, failed, unavailable, too_large).',
          unit: 'reqps',
          queries: [q(`sum by (backend, reason) (${R.upstreamErrors})`, '{{backend}} {{reason}}')],
        },
        {
          title: 'httpgrpc errors by reason',
          description: 'httpgrpc calls that ended without an HTTP response, by reason; not_sent calls were retried on another endpoint.',
          unit: 'reqps',
          queries: [q(`sum by (backend, reason) (${R.httpgrpcErrors})`, '{{backend}} {{reason}}')],
        },
        {
          title: 'In flight by backend',
          description: 'Requests being proxied now, by backend, over the fleet.',
          unit: 'short',
          queries: [q('sum by (backend) (metrics_gateway_inflight_requests)', '{{backend}}')],
        },
      ],
    },
  ],
};

export const xdsDashboard: DashboardSpec = {
  uid: 'metrics-gateway-xds',
  title: 'Metrics gateway / xDS and control plane',
  description: 'Configuration flow: control-plane builds and pushes, gateways in sync or not, NACKs, DNS.',
  rows: [
    {
      title: 'Fleet sync',
      panels: [
        {
          title: 'Gateways connected',
          description: 'Gateways with an open xDS stream to some control plane, and all gateways.',
          unit: 'short',
          queries: [q('sum(max by (job, instance) (metrics_gateway_xds_connected))', 'connected'), q('count(max by (job, instance) (metrics_gateway_xds_connected))', 'gateways')],
        },
        {
          title: 'Gateways out of sync',
          description: 'Gateways whose applied version of a type no control plane serves (STALE); MetricsGatewayXdsOutOfSync fires after 10 minutes.',
          unit: 'short',
          queries: [q(`sum by (type) (${R.outOfSync})`, '{{type}}')],
        },
        {
          title: 'Gateways per applied version',
          description: 'How many gateways run each version of each type: one line per type when the fleet is in sync.',
          unit: 'short',
          queries: [q('count by (type, version) (metrics_gateway_xds_applied_version_info)', '{{type}} {{version}}')],
        },
        {
          title: 'Control-plane replicas per served version',
          description: 'Replicas serving each version; replicas on one config and DNS serve the same.',
          unit: 'short',
          queries: [q('count by (type, version) (control_plane_snapshot_version_info)', '{{type}} {{version}}')],
        },
        {
          title: 'NACKs',
          description: 'xDS updates rejected, as the gateways and as the control planes count them.',
          unit: 'short',
          queries: [q(`sum by (type) (${increase('metrics_gateway_xds_nacks_total')})`, 'gateways {{type}}'), q(`sum by (type) (${increase('control_plane_xds_nacks_total')})`, 'control planes {{type}}')],
        },
        {
          title: 'Reconnects by control plane',
          description: 'xDS streams gateways opened again, by the control-plane address they went to.',
          unit: 'short',
          queries: [q(`sum by (server) (${increase('metrics_gateway_xds_reconnects_total')})`, '{{server}}')],
        },
      ],
    },
    {
      title: 'Control plane',
      panels: [
        {
          title: 'Push latency p99',
          description: 'From an xDS response written to a stream to its ACK or NACK (the gateway\'s validation and apply included), by type.',
          unit: 's',
          queries: [q(`max by (type) (${R.pushP99})`, '{{type}}')],
        },
        { title: 'Snapshot build p99', description: 'Time to translate, validate and check one snapshot.', unit: 's', queries: [q(`max by (job) (${R.buildP99})`, '{{job}}')] },
        {
          title: 'Snapshot build failures',
          description: 'Snapshots not published, by stage (translate, validate, consistency); the previous one stays served.',
          unit: 'short',
          queries: [q(`sum by (stage) (${increase('control_plane_snapshot_build_failures_total')})`, '{{stage}}')],
        },
        {
          title: 'Snapshots published',
          description: 'Snapshots the caches published and refused, per second.',
          unit: 'ops',
          queries: [q(`sum(${rate('control_plane_snapshot_publishes_total')})`, 'published'), q(`sum(${rate('control_plane_snapshot_publish_failures_total')})`, 'refused')],
        },
        {
          title: 'Connected xDS streams',
          description: 'ADS streams open on the control planes, by protocol.',
          unit: 'short',
          queries: [q('sum by (protocol) (control_plane_xds_connected_streams)', '{{protocol}}')],
        },
        {
          title: 'Config reloads',
          description: 'Config file loads by outcome, and whether each replica\'s last load succeeded.',
          unit: 'short',
          queries: [q(`sum by (outcome) (${increase('control_plane_config_reloads_total')})`, '{{outcome}}'), q('min by (instance) (control_plane_config_last_reload_successful)', 'last load ok {{instance}}')],
        },
      ],
    },
    {
      title: 'DNS',
      panels: [
        {
          title: 'DNS lookups by outcome',
          description: 'Lookups of dns:// backend names per second, by outcome (ok, empty, nxdomain, servfail, refused, timeout, error).',
          unit: 'ops',
          width: 12,
          queries: [q(`sum by (target, outcome) (${rate('control_plane_dns_lookups_total')})`, '{{target}} {{outcome}}')],
        },
        {
          title: 'Endpoints per DNS name',
          description: 'Addresses in the last good answer for each dns:// name.',
          unit: 'short',
          width: 12,
          queries: [q('max by (target) (control_plane_dns_endpoints)', '{{target}}')],
        },
      ],
    },
  ],
};

export const dashboards: readonly DashboardSpec[] = [requestsDashboard, xdsDashboard];
