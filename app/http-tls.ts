// TLS on the HTTP port (the gateway's front door; on -target=control-plane, its API and dashboard),
// with dskit's server flags and YAML keys: server.http_tls_config.{cert_file,key_file,
// client_auth_type,client_ca_file} (-server.http-tls-*), server.tls_min_version and
// server.tls_cipher_suites (Go's names: crypto/tls VersionTLS12, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256).
// The files are the same TlsFileSource as xDS uses: checked at start (a bad file fails start-up and
// -config.check), polled after, a broken rotation logged and the previous certificate kept.

import { createSecureContext, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { field, getPath, section, type FieldValue, type Section, type ValueTree } from '../core/config-schema.js';
import { GatewayError } from '../core/errors.js';
import { CLIENT_AUTH_TYPES, clientAuthVerifies, TlsTermination, type ClientAuthType } from '../core/tls-termination.js';
import { TlsFileSource, type TlsMaterial } from './tls-files.js';

const FLAGS = { cert: 'server.http-tls-cert-path', key: 'server.http-tls-key-path', ca: 'server.http-tls-ca-path' };

const checkClientAuth = (v: FieldValue): string | undefined =>
  v === '' || (CLIENT_AUTH_TYPES as readonly FieldValue[]).includes(v) ? undefined : `must be one of ${CLIENT_AUTH_TYPES.join(', ')} (or empty); got ${JSON.stringify(v)}`;

/** Go's tls.VersionTLS1x names (dskit's -server.tls-min-version) → Node's. Empty: Go's server default, TLS 1.2. */
const VERSIONS: Record<string, 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'> = {
  VersionTLS10: 'TLSv1',
  VersionTLS11: 'TLSv1.1',
  VersionTLS12: 'TLSv1.2',
  VersionTLS13: 'TLSv1.3',
};

/**
 * Go's TLS 1.0-1.2 cipher suite names (crypto/tls CipherSuites(), the ones Go considers secure, and
 * its _SHA256-less CHACHA20 aliases) → OpenSSL's. Go does not let TLS 1.3 suites be configured; its
 * three names are accepted and change nothing, as in Go.
 */
const CIPHERS: Record<string, string> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
};
const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

function cipherList(v: string): { list: string } | { problem: string } {
  const names = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const out: string[] = [];
  for (const n of names) {
    if (TLS13_SUITES.includes(n)) continue;
    const o = CIPHERS[n];
    if (!o) return { problem: `${JSON.stringify(n)} is not a Go cipher suite name this server supports; use some of ${Object.keys(CIPHERS).join(', ')}` };
    out.push(o);
  }
  // Node turns TLS 1.3 off when the list names no TLS 1.3 suite; Go keeps TLS 1.3 with its own
  // suites whatever the list says, so they are named too.
  return { list: [...TLS13_SUITES, ...out].join(':') };
}

/** `server.http_tls_config` (dskit's YAML keys and flags). */
export const httpTlsSchema: Section = section({
  cert_file: field('string', '', 'HTTP server TLS certificate file (PEM, the chain after the leaf); with the key, the HTTP port serves HTTPS only. Re-read when it changes.', {
    flag: FLAGS.cert,
  }),
  key_file: field('string', '', 'HTTP server TLS private key file (PEM).', { flag: FLAGS.key }),
  client_auth_type: field(
    'string',
    '',
    `Client certificates the HTTP server asks for, as Go's tls.ClientAuthType: ${CLIENT_AUTH_TYPES.join(', ')}; empty: RequireAndVerifyClientCert when -server.http-tls-ca-path is set, else NoClientCert.`,
    { flag: 'server.http-tls-client-auth', check: checkClientAuth },
  ),
  client_ca_file: field('string', '', 'CA certificates (PEM) that client certificates are verified against.', { flag: FLAGS.ca }),
});

export const tlsVersionFields = {
  tls_min_version: field('string', '', `Lowest TLS version the HTTP server accepts: ${Object.keys(VERSIONS).join(', ')}; empty: VersionTLS12 (Go's server default).`, {
    flag: 'server.tls-min-version',
    check: (v) => (v === '' || String(v) in VERSIONS ? undefined : `must be one of ${Object.keys(VERSIONS).join(', ')} (or empty); got ${JSON.stringify(v)}`),
  }),
  tls_cipher_suites: field('string', '', 'Comma-separated Go cipher suite names for TLS 1.0-1.2 on the HTTP server; empty: the defaults. TLS 1.3 suites are not configurable (as in Go).', {
    flag: 'server.tls-cipher-suites',
    check: (v) => {
      const r = cipherList(String(v));
      return 'problem' in r ? r.problem : undefined;
    },
  }),
};

const text = (tree: ValueTree, path: string): string => String(getPath(tree, path.split('.')) ?? '');

export interface HttpServerTls {
  /** Undefined: plain HTTP. */
  readonly termination: TlsTermination | undefined;
  readonly source: TlsFileSource | undefined;
  readonly description: string;
}

/**
 * Reads and checks the HTTP TLS settings and files (throws GatewayError naming the flag and the fix);
 * `name` says which server in log lines.
 */
export function httpServerTls(tree: ValueTree, logger: Logger, name: string): HttpServerTls {
  const certPath = text(tree, 'server.http_tls_config.cert_file');
  const keyPath = text(tree, 'server.http_tls_config.key_file');
  const caPath = text(tree, 'server.http_tls_config.client_ca_file');
  const given = text(tree, 'server.http_tls_config.client_auth_type');
  if (certPath === '' && keyPath === '') {
    if (caPath !== '' || given !== '') {
      throw new GatewayError('CONFIG_BAD_VALUE', `-${given !== '' ? 'server.http-tls-client-auth' : FLAGS.ca} needs TLS on the HTTP server: set -${FLAGS.cert} and -${FLAGS.key}`);
    }
    return { termination: undefined, source: undefined, description: 'plain HTTP (no -server.http-tls-cert-path)' };
  }
  const clientAuth = (given === '' ? (caPath !== '' ? 'RequireAndVerifyClientCert' : 'NoClientCert') : given) as ClientAuthType;
  if (clientAuth === 'NoClientCert' && caPath !== '') {
    // exporter-toolkit (dskit's TLS config) refuses this too: a CA nothing is checked against is a mistake.
    throw new GatewayError('CONFIG_BAD_VALUE', `-${FLAGS.ca} is set but -server.http-tls-client-auth=NoClientCert asks for no client certificate: drop the CA or pick a client auth type`);
  }
  if (clientAuthVerifies(clientAuth) && caPath === '') {
    throw new GatewayError('CONFIG_BAD_VALUE', `-server.http-tls-client-auth=${clientAuth} verifies client certificates: set -${FLAGS.ca} to the CA that signs them`);
  }
  const log = logger.child({ component: 'http-tls' });
  const source = new TlsFileSource({ paths: { certPath, keyPath, caPath }, flags: FLAGS, logger: log });
  const minVersion = VERSIONS[text(tree, 'server.tls_min_version')] ?? 'TLSv1.2';
  const suites = text(tree, 'server.tls_cipher_suites');
  const ciphers = suites === '' ? undefined : (cipherList(suites) as { list: string }).list;
  const contextOf = (m: TlsMaterial): SecureContext =>
    createSecureContext({
      cert: m.identity!.certificate,
      key: m.identity!.privateKey,
      ...(caPath !== '' ? { ca: m.ca.certificates } : {}),
      minVersion,
      ...(ciphers ? { ciphers } : {}),
      // Prefer the server's order, as Go does for its own suites.
      honorCipherOrder: true,
    });
  const termination = new TlsTermination(contextOf(source.current), {
    clientAuth,
    // HTTP/1.1 only: see README "HTTPS" for why h2 is not offered.
    alpnProtocols: ['http/1.1'],
    handshakeTimeoutMs: Number(getPath(tree, ['server', 'http_read_header_timeout'])),
    logger: log,
    name,
  });
  source.onReload((m) => termination.setContext(contextOf(m)));
  const id = source.current.identity;
  return {
    termination,
    source,
    description: `HTTPS (certificate ${certPath}: ${id?.subject ?? '?'}, valid to ${id?.validTo ?? '?'}; minimum ${minVersion}; client certificates: ${clientAuth}${caPath !== '' ? ` against ${caPath}` : ''})`,
  };
}
