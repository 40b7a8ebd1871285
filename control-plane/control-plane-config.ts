// The `control_plane:` config block and its flags.

import { field, section, type FieldValue, type Section } from '../core/config-schema.js';
import { parseBackendUrl } from '../core/backend-url.js';

const atLeastOneSecond = (v: FieldValue): string | undefined =>
  typeof v === 'number' && v < 1000 ? `must be at least 1s (DNS is never asked more often), got ${v}ms` : undefined;

const reportingInterval = (v: FieldValue): string | undefined =>
  typeof v === 'number' && v < 1000 ? `must be at least 1s (a load report per second per gateway is plenty), got ${v}ms` : undefined;

const port = (v: FieldValue): string | undefined =>
  typeof v === 'number' && (v < 1 || v > 65535) ? `must be a port 1-65535, got ${v}` : undefined;

/** -control-plane.peers: '' (no peers) or a dns:/// name whose port is the peers' HTTP port. */
const peersName = (v: FieldValue): string | undefined => {
  if (typeof v !== 'string' || v === '') return undefined;
  const r = parseBackendUrl(v);
  if ('problem' in r) return r.problem;
  if (r.target.kind !== 'dns') return `${JSON.stringify(v)} is not a dns:/// name; use dns:///<headless service>:<http port>, e.g. dns:///metrics-gateway-control-plane-peers:8080`;
  return undefined;
};

const fraction = (v: FieldValue): string | undefined =>
  typeof v === 'number' && (v < 0 || v > 1) ? `must be between 0 (rollouts off) and 1, got ${v}` : undefined;

const bake = (v: FieldValue): string | undefined =>
  typeof v === 'number' && v < 1000 ? `must be at least 1s (load reports come every -control-plane.load-reporting-interval), got ${v}ms` : undefined;

const nonNegative = (v: FieldValue): string | undefined => (typeof v === 'number' && v < 0 ? `must be 0 or more, got ${v}` : undefined);

export const controlPlaneSchema: Section = section({
  dns: section({
    lookup_period: field('duration', 5000, 'How often dns:// backend names are resolved again (also when their TTL expires, at most once a second).', {
      check: atLeastOneSecond,
    }),
  }),
  peers: field(
    'string',
    '',
    'dns:/// name of this control plane\'s replicas (e.g. a headless Service) and the port of their HTTP API: each replica then merges the fleet-wide reads (nodes, CSDS, load, the dashboard) with what its peers hold. Empty: no peers.',
    { check: peersName },
  ),
  // README "Rollouts" gives the rule these feed and why the defaults are what they are.
  rollout: section({
    canary_fraction: field(
      'float',
      0,
      'Share of each fleet cluster\'s connected gateways (at least one) that gets a config or tokens change first, for the bake time, before the rest; 0 turns rollouts off (every change reaches every gateway at once).',
      { check: fraction },
    ),
    bake_time: field('duration', 60_000, 'How long the canaries run a change before it is promoted (a canary NACK or failure rate above the thresholds rolls it back at once).', {
      check: bake,
    }),
    max_bake_time: field('duration', 600_000, 'How long the bake is extended while the canaries carried fewer than min-requests; then the change is promoted.', {
      check: bake,
    }),
    max_failure_rate_increase: field(
      'float',
      0.05,
      'Roll back when the canaries\' failure rate (no answer or 5xx) to a backend exceeds the baseline cohort\'s by more than this (0.05 = 5 percentage points).',
      { check: fraction },
    ),
    min_requests: field('int', 100, 'Requests the canaries must carry to a backend before it is judged (and in all before a change is promoted).', { check: nonNegative }),
  }),
  load_reporting_interval: field(
    'duration',
    5000,
    'How often gateways (and any other xDS client of this control plane) send load reports (LRS); the fleet dashboard and /control-plane/api/v1/load read them.',
    { check: reportingInterval },
  ),
  // A config value, never this process's own listen port: replicas of the control plane must publish
  // byte-identical snapshots (and so equal versions) for equal config and DNS answers, whatever port
  // each one happens to listen on, or a gateway failing over would re-apply everything.
  listener_port: field(
    'int',
    8080,
    'Port in the gateway Listener resource of every snapshot, for Envoy proxies fed by this control plane (metrics-gateway gateways listen on their own -server.http-listen-port).',
    { check: port },
  ),
});
