// The `gateway.proxy` config block, shaped exactly like GEM's, and its flags
// (-gateway.proxy.<backend>.<field>). It is the control plane's input: the backends it translates
// into Clusters. The gateway itself never reads it; it gets the result over xDS.

import { BACKEND_NAMES, type Backend, type BackendName } from '../core/model.js';
import { field, mappingEntries, positive, section, type FieldValue, type Section, type ValueTree } from '../core/config-schema.js';
import type { DnsTarget } from '../core/model.js';
import { parseBackendUrl } from '../core/backend-url.js';
import { LOAD_BALANCING, OUTLIER_DEFAULTS, outlierSettings, ZONE_AWARE_DEFAULTS, type BalancingPolicy, type LoadBalancing } from '../core/balancing.js';

const checkUrl = (v: FieldValue): string | undefined => {
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  const r = parseBackendUrl(v);
  return 'problem' in r ? r.problem : undefined;
};

const percent = (v: FieldValue): string | undefined =>
  typeof v === 'number' && (v < 0 || v > 100) ? `must be a percentage 0-100, got ${v}` : undefined;
const nonNegative = (v: FieldValue): string | undefined =>
  typeof v === 'number' && (v < 0 || v > 0xffff_ffff) ? `must be 0 or more (a uint32), got ${v}` : undefined;
const oneOfBalancing = (v: FieldValue): string | undefined =>
  (LOAD_BALANCING as readonly string[]).includes(String(v)) ? undefined : `must be one of ${LOAD_BALANCING.join(', ')}; got ${JSON.stringify(v)}`;

const D = OUTLIER_DEFAULTS;
/** Envoy's OutlierDetection fields, names, meanings and defaults (config/cluster/v3/outlier_detection.proto). */
const outlierSection = (): Section =>
  section({
    // Envoy turns detection on by the message's presence; a tree with defaults filled in cannot show
    // presence, so this switch does.
    enabled: field('bool', false, 'Turn on outlier detection (Envoy: the outlier_detection message is present); off by default.'),
    consecutive_5xx: field('int', D.consecutive_5xx, 'Consecutive 5xx answers or failed calls before an endpoint is ejected.', { check: nonNegative }),
    consecutive_gateway_failure: field('int', D.consecutive_gateway_failure, 'Consecutive gateway failures (502, 503, 504, connect failure, reset, timeout) before an ejection.', { check: nonNegative }),
    interval: field('duration', D.interval_ms, 'Time between ejection sweeps (success rate, failure percentage, returns).', { check: positive }),
    base_ejection_time: field('duration', D.base_ejection_time_ms, 'Ejection time; an endpoint is ejected for this times the number of times it was ejected.', { check: positive }),
    max_ejection_time: field('duration', D.max_ejection_time_ms, 'Longest ejection time (base_ejection_time × times is capped here).', { check: positive }),
    max_ejection_percent: field('int', D.max_ejection_percent, 'Most endpoints, in percent, ejected at once, this ejection included (Envoy: 1 of 3 needs 34 or always_eject_one_host).', { check: percent }),
    enforcing_consecutive_5xx: field('int', D.enforcing_consecutive_5xx, 'Chance in percent that a consecutive_5xx detection ejects.', { check: percent }),
    enforcing_consecutive_gateway_failure: field('int', D.enforcing_consecutive_gateway_failure, 'Chance in percent that a consecutive_gateway_failure detection ejects (Envoy default 0: off).', { check: percent }),
    enforcing_success_rate: field('int', D.enforcing_success_rate, 'Chance in percent that a success-rate detection ejects.', { check: percent }),
    success_rate_minimum_hosts: field('int', D.success_rate_minimum_hosts, 'Endpoints with enough requests needed for success-rate detection to run.', { check: nonNegative }),
    success_rate_request_volume: field('int', D.success_rate_request_volume, 'Requests an endpoint needs in an interval to count for success-rate detection.', { check: nonNegative }),
    success_rate_stdev_factor: field('int', D.success_rate_stdev_factor, 'Ejected below mean − stdev × this/1000 (1900 = 1.9).', { check: nonNegative }),
    enforcing_failure_percentage: field('int', D.enforcing_failure_percentage, 'Chance in percent that a failure-percentage detection ejects (Envoy default 0: off).', { check: percent }),
    failure_percentage_threshold: field('int', D.failure_percentage_threshold, 'Failure percentage in an interval above which an endpoint is ejected.', { check: percent }),
    failure_percentage_minimum_hosts: field('int', D.failure_percentage_minimum_hosts, 'Endpoints with enough requests needed for failure-percentage detection to run.', { check: nonNegative }),
    failure_percentage_request_volume: field('int', D.failure_percentage_request_volume, 'Requests an endpoint needs in an interval to count for failure-percentage detection.', { check: nonNegative }),
    always_eject_one_host: field('bool', false, 'Allow one ejection even when max_ejection_percent would not (3 endpoints at 10 %).'),
  });

const Z = ZONE_AWARE_DEFAULTS;
/** Envoy's ZoneAwareLbConfig (load_balancing_policies/common/v3/common.proto), names and defaults. */
const zoneAwareSection = (): Section =>
  section({
    routing_enabled: field('int', Z.routingEnabled, 'Percent of requests that are zone-aware (the rest balance over every zone).', { check: percent }),
    min_cluster_size: field('int', Z.minClusterSize, 'Fewer healthy endpoints than this in all: balance over every zone.', { check: nonNegative }),
    fail_traffic_on_panic: field('bool', Z.failTrafficOnPanic, 'When every endpoint is ejected (panic), fail requests instead of sending them to all.'),
  });

/** `zones`: zone name → dns:/// URL, each a valid dns target. */
const checkZones = (v: FieldValue): string | undefined => {
  const seen = new Set<string>();
  for (const [zone, url] of mappingEntries(String(v))) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(zone)) return `zone name ${JSON.stringify(zone)} must be letters, digits, ".", "_" or "-"`;
    if (seen.has(zone)) return `zone ${zone} is given twice`;
    seen.add(zone);
    const r = parseBackendUrl(url);
    if ('problem' in r) return `zone ${zone}: ${r.problem}`;
    if (r.target.kind !== 'dns') return `zone ${zone}: ${JSON.stringify(url)} must be a dns:/// URL (zones are httpgrpc endpoint sets)`;
  }
  return undefined;
};

function zonesOf(v: ValueTree): { zone: string; target: DnsTarget; url: string }[] {
  const out: { zone: string; target: DnsTarget; url: string }[] = [];
  for (const [zone, url] of mappingEntries(String(v['zones'] ?? ''))) {
    const r = parseBackendUrl(url);
    if (!('problem' in r) && r.target.kind === 'dns') out.push({ zone, target: r.target, url });
  }
  return out.sort((a, b) => (a.zone < b.zone ? -1 : a.zone > b.zone ? 1 : 0));
}

function backendSection(name: BackendName): Section {
  const fallback = name === 'default' ? 'backends without a url of their own use this one' : 'empty: use default.url';
  return section({
    url: field('string', '', `URL of the ${name} backend: http(s)://host:port, or dns:///host:port for httpgrpc; ${fallback}.`, {
      check: checkUrl,
    }),
    enable_keepalive: field('bool', true, 'Keep connections to the backend open between requests.'),
    timeout: field('duration', 300_000, 'Time a request to the backend may take before the gateway answers 504.', {
      check: positive,
    }),
    tls_enabled: field('bool', false, 'Use TLS to the backend (implied by https://).'),
    tls_ca_path: field('string', '', 'CA certificates file to verify the backend with, instead of the system CAs.'),
    tls_cert_path: field('string', '', 'Client certificate file for mutual TLS.'),
    tls_key_path: field('string', '', 'Client private key file for mutual TLS.'),
    tls_server_name: field('string', '', 'Server name to verify the backend certificate against (and send as SNI).'),
    tls_insecure_skip_verify: field('bool', false, 'Do not verify the backend certificate. For testing only.'),
    load_balancing: field('string', 'round_robin', 'Per-request balancing over dns:/// endpoints: round_robin, or least_request (two random choices, fewer calls in flight).', {
      check: oneOfBalancing,
    }),
    outlier_detection: outlierSection(),
    zones: field('string', '', 'Zone-aware dns:/// endpoints: zone name → dns:/// URL (YAML: a mapping; flag: zone-a=dns:///a:9095,zone-b=dns:///b:9095); url is then optional.', {
      check: checkZones,
      mapping: true,
    }),
    zone_aware: zoneAwareSection(),
  });
}

/** `gateway.proxy`: one block per backend. */
export const proxySchema: Section = section(Object.fromEntries(BACKEND_NAMES.map((n) => [n, backendSection(n)])));

/** A backend's raw values from the config tree. */
function backendValues(proxy: ValueTree, name: BackendName): ValueTree {
  const block = proxy[name];
  return block !== undefined && typeof block === 'object' ? block : {};
}

function toBackend(name: BackendName, v: ValueTree): Backend | undefined {
  const zones = zonesOf(v);
  // With zones, the first zone's target stands for the backend where one target is needed (kind, metadata).
  const url = String(v['url'] ?? '').trim() || (zones[0]?.url ?? '');
  if (url === '') return undefined;
  const parsed = parseBackendUrl(url);
  if ('problem' in parsed) return undefined; // rejected by checkTree before we get here
  const target = zones.length > 0 ? zones[0]!.target : parsed.target;
  return {
    name,
    url,
    target,
    enableKeepalive: v['enable_keepalive'] !== false,
    timeoutMs: Number(v['timeout']),
    tls: {
      enabled: v['tls_enabled'] === true || (target.kind === 'http' && target.scheme === 'https'),
      caPath: String(v['tls_ca_path'] ?? ''),
      certPath: String(v['tls_cert_path'] ?? ''),
      keyPath: String(v['tls_key_path'] ?? ''),
      serverName: String(v['tls_server_name'] ?? ''),
      insecureSkipVerify: v['tls_insecure_skip_verify'] === true,
    },
    balancing: zones.length > 0 ? { ...balancingOf(v), zoneAware: zoneAwareOf(v) } : balancingOf(v),
    ...(zones.length > 0 ? { zones } : {}),
  };
}

function balancingOf(v: ValueTree): BalancingPolicy {
  const lb = String(v['load_balancing'] ?? 'round_robin') as LoadBalancing;
  const od = v['outlier_detection'];
  if (od === undefined || typeof od !== 'object' || od['enabled'] !== true) return { loadBalancing: lb };
  const settings = outlierSettings((name) => (typeof od[name] === 'number' ? (od[name] as number) : undefined), od['always_eject_one_host'] === true);
  return { loadBalancing: lb, outlierDetection: settings };
}

function zoneAwareOf(v: ValueTree): NonNullable<BalancingPolicy['zoneAware']> {
  const z = v['zone_aware'];
  const o = z !== undefined && typeof z === 'object' ? z : {};
  return {
    routingEnabled: typeof o['routing_enabled'] === 'number' ? o['routing_enabled'] : Z.routingEnabled,
    minClusterSize: typeof o['min_cluster_size'] === 'number' ? o['min_cluster_size'] : Z.minClusterSize,
    failTrafficOnPanic: o['fail_traffic_on_panic'] === true,
  };
}

/**
 * The effective backends. A backend without a url of its own takes `default`'s whole block (url, TLS,
 * timeout), since those settings belong to the URL. A backend absent here has no url and no default.
 */
export function effectiveBackends(proxy: ValueTree): Backend[] {
  const fallback = toBackend('default', backendValues(proxy, 'default'));
  const out: Backend[] = [];
  for (const name of BACKEND_NAMES) {
    const own = toBackend(name, backendValues(proxy, name));
    if (own) out.push(own);
    else if (fallback) out.push({ ...fallback, name });
  }
  return out;
}
