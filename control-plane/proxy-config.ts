// The `gateway.proxy` config block, shaped exactly like GEM's, and its flags
// (-gateway.proxy.<backend>.<field>). It is the control plane's input: the backends it translates
// into Clusters. The gateway itself never reads it; it gets the result over xDS.

import { BACKEND_NAMES, type Backend, type BackendName } from '../core/model.js';
import { field, positive, section, type FieldValue, type Section, type ValueTree } from '../core/config-schema.js';
import { parseBackendUrl } from '../core/backend-url.js';

const checkUrl = (v: FieldValue): string | undefined => {
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  const r = parseBackendUrl(v);
  return 'problem' in r ? r.problem : undefined;
};

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

/** `gateway.proxy`: one block per backend. */
export const proxySchema: Section = section(Object.fromEntries(BACKEND_NAMES.map((n) => [n, backendSection(n)])));

/** A backend's raw values from the config tree. */
function backendValues(proxy: ValueTree, name: BackendName): ValueTree {
  const block = proxy[name];
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
