// The facts the control plane works from, independent of YAML, flags and Envoy.
// Watchers produce these; translation turns them into xDS resources; nothing here
// knows how it was obtained.

import type { BalancingPolicy } from './balancing.js';

/** Backend services of a Mimir/GEM cluster, in the order the gateway documents them. */
export const BACKEND_NAMES = [
  'admin_api',
  'alertmanager',
  'compactor',
  'distributor',
  'graphite',
  'ingester',
  'query_frontend',
  'ruler',
  'store_gateway',
  'default',
] as const;

export type BackendName = (typeof BACKEND_NAMES)[number];

/** `http(s)://host:port`: plain HTTP reverse proxy. */
export interface HttpTarget {
  readonly kind: 'http';
  readonly scheme: 'http' | 'https';
  readonly host: string;
  readonly port: number;
  /** Path prefix of the URL, '' when none. Kept for display; the proxy forwards paths unchanged. */
  readonly basePath: string;
}

/** A DNS server named by an RFC 4501 authority (`dns://127.0.0.1:5353/...`). */
export interface DnsServer {
  readonly host: string;
  readonly port: number;
}

/** `dns://[server]/host:port`: httpgrpc over gRPC to every address `host` resolves to. */
export interface DnsTarget {
  readonly kind: 'dns';
  /** Undefined: the system resolver. */
  readonly server: DnsServer | undefined;
  /** A DNS name, or an IPv4/IPv6 literal (then it is the one endpoint). */
  readonly host: string;
  readonly port: number;
}

export type BackendTarget = HttpTarget | DnsTarget;

export interface TlsSettings {
  readonly enabled: boolean;
  readonly caPath: string;
  readonly certPath: string;
  readonly keyPath: string;
  readonly serverName: string;
  readonly insecureSkipVerify: boolean;
}

/** One backend as configured, after `default` fallback has been applied. */
export interface Backend {
  readonly name: BackendName;
  /** The URL exactly as configured (for display and error messages). */
  readonly url: string;
  readonly target: BackendTarget;
  readonly enableKeepalive: boolean;
  readonly tls: TlsSettings;
  /** Per-request timeout, milliseconds. */
  readonly timeoutMs: number;
  /**
   * Balancing over dns:/// endpoints. Set by the control plane from config; the data plane reads it
   * from the Cluster's standard fields instead (xds/balancing-policy.ts), so it is absent there.
   */
  readonly balancing?: BalancingPolicy;
  /**
   * Zone-aware backends (issue 20): one dns:/// target per zone, e.g. one headless Service per
   * zone. The ClusterLoadAssignment then carries one locality per zone.
   */
  readonly zones?: readonly { readonly zone: string; readonly target: DnsTarget; readonly url: string }[];
}

/** One resolved address of a DNS target. */
export interface Endpoint {
  /** IPv4 or IPv6 literal, no brackets. */
  readonly address: string;
  readonly port: number;
  /** The endpoint's zone (its ClusterLoadAssignment locality), when the control plane knows it. */
  readonly zone?: string;
}

/** Key that identifies a DNS target independent of which backend uses it. */
export function dnsTargetKey(t: DnsTarget): string {
  const server = t.server ? `${formatHostPort(t.server.host, t.server.port)}` : '';
  return `dns://${server}/${formatHostPort(t.host, t.port)}`;
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
