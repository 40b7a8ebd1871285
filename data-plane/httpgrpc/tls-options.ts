import { readFileSync } from 'node:fs';
import type { SecureClientSessionOptions } from 'node:http2';
import { isIP } from 'node:net';
import { checkServerIdentity } from 'node:tls';
import type { TlsSettings } from '../../core/model.js';

const read = (path: string): Buffer | undefined => (path === '' ? undefined : readFileSync(path));

/**
 * tls.connect options for a backend's TLS settings; undefined (plaintext HTTP/2, h2c) when TLS is off,
 * as Mimir's gRPC port speaks by default. Files are read once, when the upstream is built (config
 * time), so a missing file fails the config load rather than a request. The target is an IP literal,
 * so `serverName` is both the SNI and the name the certificate is checked against.
 */
export function tlsOptionsFor(tls: TlsSettings | undefined): SecureClientSessionOptions | undefined {
  if (tls === undefined || !tls.enabled) return undefined;
  const ca = read(tls.caPath);
  const cert = read(tls.certPath);
  const key = read(tls.keyPath);
  return {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(tls.serverName !== '' && isIP(tls.serverName) === 0 ? { servername: tls.serverName } : {}),
    ...(tls.serverName !== '' ? { checkServerIdentity: checkAgainst(tls.serverName) } : {}),
    rejectUnauthorized: !tls.insecureSkipVerify,
    ...(tls.insecureSkipVerify ? { checkServerIdentity: () => undefined } : {}),
  };
}


/** Check the certificate against the configured name instead of the IP the connection went to. */
function checkAgainst(name: string): typeof checkServerIdentity {
  return (_host, cert) => checkServerIdentity(name, cert);
}
