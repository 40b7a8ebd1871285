// The contract between the two planes that Envoy has no field for: each Cluster carries, under
// filter_metadata["metrics-gateway"], how the gateway proxies to it (httpgrpc or http, the URL as
// configured, TLS files, timeout). The control plane writes it; the data plane reads it back into
// the same Backend. Envoy and gRPC clients ignore it.

import { BACKEND_NAMES, dnsTargetKey, type Backend, type BackendName } from '../core/model.js';
import { parseBackendUrl } from '../core/backend-url.js';
import type { DecodedCluster, DecodedStruct } from './decoded.js';
import type { PlainMessage } from './protos.js';

/** filter_metadata key under which each cluster says how the gateway proxies to it. */
export const GATEWAY_METADATA_KEY = 'metrics-gateway';

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** google.protobuf.Struct, keys sorted. protobufjs's bundled well-known types use camelCase names. */
export function struct(values: Record<string, string | number | boolean>): PlainMessage {
  const fields: Record<string, PlainMessage> = {};
  for (const key of Object.keys(values).sort(cmp)) {
    const v = values[key];
    if (typeof v === 'string') fields[key] = { stringValue: v };
    else if (typeof v === 'number') fields[key] = { numberValue: v };
    else if (typeof v === 'boolean') fields[key] = { boolValue: v };
  }
  return { fields };
}

/** How the gateway proxies to this cluster (the control plane's writing). */
export function backendMetadata(b: Backend): PlainMessage {
  const t = b.target;
  const tlsEnabled = t.kind === 'http' ? t.scheme === 'https' || b.tls.enabled : b.tls.enabled;
  const values = {
    backend: b.name,
    proxy: t.kind === 'dns' ? 'httpgrpc' : 'http',
    url: b.url,
    enable_keepalive: b.enableKeepalive,
    timeout_ms: b.timeoutMs,
    tls_enabled: tlsEnabled,
    tls_insecure_skip_verify: b.tls.insecureSkipVerify,
    tls_server_name: b.tls.serverName,
    tls_ca_path: b.tls.caPath,
    tls_cert_path: b.tls.certPath,
    tls_key_path: b.tls.keyPath,
    ...(t.kind === 'dns' ? { dns_target: dnsTargetKey(t) } : { base_path: t.basePath }),
  };
  return { filter_metadata: { [GATEWAY_METADATA_KEY]: struct(values) } };
}

type Meta = Readonly<Record<string, string | number | boolean>>;

function metadataOf(cluster: DecodedCluster): Meta | undefined {
  const s: DecodedStruct | undefined = cluster.metadata?.filter_metadata?.[GATEWAY_METADATA_KEY];
  if (!s?.fields) return undefined;
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(s.fields)) {
    const value = v.stringValue ?? v.numberValue ?? v.boolValue;
    if (value !== undefined) out[k] = value;
  }
  return out;
}

/** The backend a cluster describes, or why it cannot be served (the data plane's reading). */
export function backendFromCluster(cluster: DecodedCluster): Backend | string {
  const m = metadataOf(cluster);
  const name = (BACKEND_NAMES as readonly string[]).includes(String(m?.['backend'])) ? (m!['backend'] as BackendName) : 'default';
  let url = typeof m?.['url'] === 'string' ? m['url'] : '';
  if (url === '') {
    // A cluster from another control plane: plain HTTP to its single static address.
    const sa = cluster.load_assignment?.endpoints?.[0]?.lb_endpoints?.[0]?.endpoint?.address?.socket_address;
    if (!sa?.address || !sa.port_value) return `no "${GATEWAY_METADATA_KEY}" metadata url and no static address to proxy to`;
    url = `http://${sa.address.includes(':') ? `[${sa.address}]` : sa.address}:${sa.port_value}`;
  }
  const parsed = parseBackendUrl(url);
  if ('problem' in parsed) return `metadata url: ${parsed.problem}`;
  const proxy = m?.['proxy'] ?? (parsed.target.kind === 'dns' ? 'httpgrpc' : 'http');
  if (proxy !== 'http' && proxy !== 'httpgrpc') return `metadata proxy ${JSON.stringify(proxy)} is neither "http" nor "httpgrpc"`;
  if ((proxy === 'httpgrpc') !== (parsed.target.kind === 'dns')) return `metadata proxy "${proxy}" does not fit url ${JSON.stringify(url)}`;
  if (proxy === 'httpgrpc' && cluster.type !== 'EDS') return 'an httpgrpc cluster must be of type EDS';
  const num = (k: string, d: number): number => (typeof m?.[k] === 'number' ? (m[k] as number) : d);
  const str = (k: string): string => (typeof m?.[k] === 'string' ? (m[k] as string) : '');
  const bool = (k: string, d: boolean): boolean => (typeof m?.[k] === 'boolean' ? (m[k] as boolean) : d);
  const scheme = parsed.target.kind === 'http' ? parsed.target.scheme : undefined;
  return {
    name,
    url,
    target: parsed.target,
    enableKeepalive: bool('enable_keepalive', true),
    timeoutMs: num('timeout_ms', 300_000),
    tls: {
      enabled: bool('tls_enabled', scheme === 'https'),
      caPath: str('tls_ca_path'),
      certPath: str('tls_cert_path'),
      keyPath: str('tls_key_path'),
      serverName: str('tls_server_name'),
      insecureSkipVerify: bool('tls_insecure_skip_verify', false),
    },
  };
}
