// TLS on the xDS channel, both ends, at the level of the gRPC server and channel credentials: every
// service on the control plane's gRPC port (ADS today, LRS and CSDS next) and every stream a gateway
// opens on its xDS channel is covered by the same settings. Plain text stays the default.
// Flags follow dskit's server (-server.grpc-tls-*) and Mimir's gRPC clients (-<prefix>.tls-*).

import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { field, getPath, section, type FieldValue, type Section, type ValueTree } from '../core/config-schema.js';
import { GatewayError } from '../core/errors.js';
import { TlsFileSource } from './tls-files.js';

/** What Node's TLS server can enforce of Go's tls.ClientAuthType (dskit's -server.grpc-tls-client-auth). */
const CLIENT_AUTH = ['NoClientCert', 'RequestClientCert', 'RequireAndVerifyClientCert'] as const;
type ClientAuth = (typeof CLIENT_AUTH)[number];

const checkClientAuth = (v: FieldValue): string | undefined => {
  if (v === '' || (CLIENT_AUTH as readonly FieldValue[]).includes(v)) return undefined;
  if (v === 'RequireAnyClientCert' || v === 'VerifyClientCertIfGiven') {
    return `${JSON.stringify(v)} is not supported: Node's TLS server cannot accept a missing client certificate while it rejects an invalid one; use RequireAndVerifyClientCert`;
  }
  return `must be one of ${CLIENT_AUTH.join(', ')} (or empty); got ${JSON.stringify(v)}`;
};

/** `server.grpc_tls_config` (dskit's YAML keys and flags). */
export const grpcTlsSchema: Section = section({
  cert_file: field('string', '', 'gRPC (xDS) server TLS certificate file (PEM); with the key, xDS is served over TLS. Re-read when it changes.', {
    flag: 'server.grpc-tls-cert-path',
  }),
  key_file: field('string', '', 'gRPC (xDS) server TLS private key file (PEM).', { flag: 'server.grpc-tls-key-path' }),
  client_auth_type: field(
    'string',
    '',
    `Client certificates the gRPC server requires: ${CLIENT_AUTH.join(', ')}; empty: RequireAndVerifyClientCert when -server.grpc-tls-ca-path is set, else NoClientCert.`,
    { flag: 'server.grpc-tls-client-auth', check: checkClientAuth },
  ),
  client_ca_file: field('string', '', 'CA certificates (PEM) that client certificates must be signed by.', { flag: 'server.grpc-tls-ca-path' }),
});

const SERVER_FLAGS = { cert: 'server.grpc-tls-cert-path', key: 'server.grpc-tls-key-path', ca: 'server.grpc-tls-ca-path' };
const CLIENT_FLAGS = { cert: 'gateway.xds.tls-cert-path', key: 'gateway.xds.tls-key-path', ca: 'gateway.xds.tls-ca-path' };

const text = (tree: ValueTree, path: string): string => String(getPath(tree, path.split('.')) ?? '');

export interface XdsServerTls {
  readonly credentials: grpc.ServerCredentials;
  /** Polls the files while the server runs; undefined for plain text. */
  readonly source: TlsFileSource | undefined;
  readonly description: string;
}

export function xdsServerTls(tree: ValueTree, logger: Logger): XdsServerTls {
  const certPath = text(tree, 'server.grpc_tls_config.cert_file');
  const keyPath = text(tree, 'server.grpc_tls_config.key_file');
  const caPath = text(tree, 'server.grpc_tls_config.client_ca_file');
  const given = text(tree, 'server.grpc_tls_config.client_auth_type');
  if (certPath === '' && keyPath === '') {
    if (caPath !== '' || given !== '') {
      throw new GatewayError('CONFIG_BAD_VALUE', `-${given !== '' ? 'server.grpc-tls-client-auth' : SERVER_FLAGS.ca} needs TLS on the gRPC server: set -${SERVER_FLAGS.cert} and -${SERVER_FLAGS.key}`);
    }
    return { credentials: grpc.ServerCredentials.createInsecure(), source: undefined, description: 'plain text (no -server.grpc-tls-cert-path)' };
  }
  const clientAuth = (given === '' ? (caPath !== '' ? 'RequireAndVerifyClientCert' : 'NoClientCert') : given) as ClientAuth;
  if (clientAuth !== 'NoClientCert' && caPath === '') {
    throw new GatewayError('CONFIG_BAD_VALUE', `-server.grpc-tls-client-auth=${clientAuth} needs -${SERVER_FLAGS.ca}: the CA that signs the gateways' certificates`);
  }
  const useCa = clientAuth !== 'NoClientCert';
  const source = new TlsFileSource({ paths: { certPath, keyPath, caPath: useCa ? caPath : '' }, flags: SERVER_FLAGS, logger: logger.child({ component: 'xds-server-tls' }) });
  // grpc-js 1.14 declares this factory's parameters as (ca, identity, require) but passes them on as
  // (identity, ca, require) (server-credentials.js): the first argument is the server's own
  // certificate. One source serves both roles here, so only "no CA" (null second argument) matters.
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(source, useCa ? source : null, clientAuth === 'RequireAndVerifyClientCert');
  const id = source.current.identity;
  return {
    credentials,
    source,
    description: `TLS (certificate ${certPath}: ${id?.subject ?? '?'}, valid to ${id?.validTo ?? '?'}; client certificates: ${clientAuth}${useCa ? ` against ${caPath}` : ''})`,
  };
}

export interface XdsClientTls {
  readonly credentials: grpc.ChannelCredentials;
  readonly channelOptions: grpc.ChannelOptions;
  readonly source: TlsFileSource | undefined;
  readonly enabled: boolean;
  readonly serverName: string;
  readonly caPath: string;
  readonly description: string;
}

export function xdsClientTls(tree: ValueTree, logger: Logger): XdsClientTls {
  const enabled = getPath(tree, ['gateway', 'xds', 'tls_enabled']) === true;
  const certPath = text(tree, 'gateway.xds.tls_cert_path');
  const keyPath = text(tree, 'gateway.xds.tls_key_path');
  const caPath = text(tree, 'gateway.xds.tls_ca_path');
  const serverName = text(tree, 'gateway.xds.tls_server_name');
  if (!enabled) {
    const set = [
      ['gateway.xds.tls-cert-path', certPath],
      ['gateway.xds.tls-key-path', keyPath],
      ['gateway.xds.tls-ca-path', caPath],
      ['gateway.xds.tls-server-name', serverName],
    ].find(([, v]) => v !== '');
    if (set) throw new GatewayError('CONFIG_BAD_VALUE', `-${set[0]} is set but TLS to the control plane is off: add -gateway.xds.tls-enabled=true`);
    return { credentials: grpc.credentials.createInsecure(), channelOptions: {}, source: undefined, enabled, serverName, caPath, description: 'plain text (-gateway.xds.tls-enabled=false)' };
  }
  const source = new TlsFileSource({ paths: { certPath, keyPath, caPath }, flags: CLIENT_FLAGS, logger: logger.child({ component: 'xds-client-tls' }) });
  const credentials = grpc.experimental.createCertificateProviderChannelCredentials(source, certPath !== '' ? source : null);
  const id = source.current.identity;
  return {
    credentials,
    // grpc-js sends this name as SNI and checks the certificate against it instead of the host.
    channelOptions: serverName === '' ? {} : { 'grpc.ssl_target_name_override': serverName },
    source,
    enabled,
    serverName,
    caPath,
    description:
      `TLS (server verified against ${caPath || 'the system CAs'}${serverName ? ` as "${serverName}"` : ''}; ` +
      (id ? `client certificate ${certPath}: ${id.subject}, valid to ${id.validTo})` : 'no client certificate)'),
  };
}

/**
 * A gateway using an in-process control plane connects to it exactly as a remote gateway does, so
 * a TLS server needs a TLS client in the same process: say so at start, not as a refused stream.
 */
export function checkInProcessTls(server: XdsServerTls, client: XdsClientTls): void {
  if (server.source && !client.enabled) {
    throw new GatewayError(
      'CONFIG_BAD_VALUE',
      `the in-process gateway connects to this control plane over TLS (-${SERVER_FLAGS.cert} is set): set -gateway.xds.tls-enabled=true and its -gateway.xds.tls-* certificates`,
    );
  }
  if (!server.source && client.enabled) {
    throw new GatewayError('CONFIG_BAD_VALUE', `-gateway.xds.tls-enabled=true but the in-process control plane serves plain text: set -${SERVER_FLAGS.cert} and -${SERVER_FLAGS.key}, or drop -gateway.xds.tls-enabled`);
  }
}
