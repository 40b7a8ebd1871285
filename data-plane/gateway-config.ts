// The `gateway:` config block, shaped exactly like GEM's, and its flags (-gateway.proxy.<backend>.<field>).

import { hostname } from 'node:os';
import { BACKEND_NAMES, type Backend, type BackendName } from '../control-plane/model.js';
import { field, section, type FieldValue, type Section, type ValueTree } from '../app/config-schema.js';
import { parseBackendUrl } from './backend-url.js';

const checkUrl = (v: FieldValue): string | undefined => {
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  const r = parseBackendUrl(v);
  return 'problem' in r ? r.problem : undefined;
};

const positive = (v: FieldValue): string | undefined =>
  typeof v === 'number' && v <= 0 ? `must be greater than 0, got ${v}` : undefined;

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
  });
}

export const gatewaySchema: Section = section({
  proxy: section(Object.fromEntries(BACKEND_NAMES.map((n) => [n, backendSection(n)]))),
  xds: section({
    server_address: field('string', '', 'Control plane xDS server(s) to get config from, host:port[,host:port...]; empty: run the control plane in-process on -config.file.', {
      flag: 'gateway.xds.server-address',
    }),
    node_id: field('string', `${hostname()}-${process.pid}`, 'xDS node id this gateway reports (default hostname-pid).', { flag: 'gateway.xds.node-id' }),
    cluster: field('string', 'metrics-gateway', 'xDS node cluster this gateway reports (its fleet).', { flag: 'gateway.xds.cluster' }),
  }),
  grpc_max_message_bytes: field(
    'bytes',
    100 * 1024 * 1024,
    'Largest httpgrpc message to or from dns:// backends; larger request bodies get 413 (Mimir distributor default).',
    { flag: 'gateway.grpc-max-message-bytes', check: positive },
  ),
});

/** A backend's raw values from the config tree. */
function backendValues(tree: ValueTree, name: BackendName): ValueTree {
  const proxy = tree['proxy'];
  const block = proxy !== undefined && typeof proxy === 'object' ? proxy[name] : undefined;
  return block !== undefined && typeof block === 'object' ? block : {};
}

function toBackend(name: BackendName, v: ValueTree): Backend | undefined {
  const url = String(v['url'] ?? '').trim();
  if (url === '') return undefined;
  const parsed = parseBackendUrl(url);
  if ('problem' in parsed) return undefined; // rejected by checkTree before we get here
  const target = parsed.target;
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
  };
}

/**
 * The effective backends. A backend without a url of its own takes `default`'s whole block (url, TLS,
 * timeout), since those settings belong to the URL. A backend absent here has no url and no default.
 */
export function effectiveBackends(gateway: ValueTree): Backend[] {
  const fallback = toBackend('default', backendValues(gateway, 'default'));
  const out: Backend[] = [];
  for (const name of BACKEND_NAMES) {
    const own = toBackend(name, backendValues(gateway, name));
    if (own) out.push(own);
    else if (fallback) out.push({ ...fallback, name });
  }
  return out;
}
