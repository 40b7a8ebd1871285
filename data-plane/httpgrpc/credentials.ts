import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import type { TlsSettings } from '../../core/model.js';

const read = (path: string): Buffer | null => (path === '' ? null : readFileSync(path));

/**
 * Channel credentials for a backend's TLS settings: plaintext HTTP/2 (h2c) when TLS is off, as Mimir's
 * gRPC port speaks by default. Files are read once, when the upstream is built (config time), so a
 * missing file fails the config load rather than a request. `serverName` is applied by the caller as
 * `grpc.ssl_target_name_override`: the channel target is an IP literal.
 */
export function credentialsFor(tls: TlsSettings | undefined): ChannelCredentials {
  if (tls === undefined || !tls.enabled) return credentials.createInsecure();
  return credentials.createSsl(read(tls.caPath), read(tls.keyPath), read(tls.certPath), {
    rejectUnauthorized: !tls.insecureSkipVerify,
    ...(tls.insecureSkipVerify ? { checkServerIdentity: () => undefined } : {}),
  });
}
