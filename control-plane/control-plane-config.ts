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
