// The gateway's own part of the `gateway:` config block: how it reaches the control plane and the
// httpgrpc message limit. (`gateway.proxy`, the backends, is the control plane's input.)

import { hostname } from 'node:os';
import { field, positive, section, type Node } from '../core/config-schema.js';
import { HTTPGRPC_CLIENTS } from './httpgrpc/client-session.js';

/** Fields next to `proxy` under `gateway:` (GEM's layout). */
export const gatewayFields: Readonly<Record<string, Node>> = {
  xds: section({
    server_address: field('string', '', 'Control plane xDS server(s) to get config from, host:port[,host:port...]; empty: run the control plane in-process on -config.file.', {
      flag: 'gateway.xds.server-address',
    }),
    node_id: field('string', `${hostname()}-${process.pid}`, 'xDS node id this gateway reports (default hostname-pid).', { flag: 'gateway.xds.node-id' }),
    cluster: field('string', 'metrics-gateway', 'xDS node cluster this gateway reports (its fleet).', { flag: 'gateway.xds.cluster' }),
    // Node.locality (base.proto): where this gateway runs; the balancer keeps traffic in its zone.
    locality_region: field('string', '', 'Region this gateway runs in, sent as Node.locality.region.', { flag: 'gateway.xds.locality-region' }),
    locality_zone: field('string', '', 'Zone this gateway runs in, sent as Node.locality.zone; requests prefer endpoints in this zone.', { flag: 'gateway.xds.locality-zone' }),
    // Mimir's gRPC client TLS names (-<prefix>.tls-enabled, -tls-cert-path, ...).
    tls_enabled: field('bool', false, 'Connect to the control plane over TLS.'),
    tls_cert_path: field('string', '', 'Client certificate file (PEM) the gateway presents to the control plane (mutual TLS). Re-read when it changes.'),
    tls_key_path: field('string', '', 'Private key file (PEM) of the client certificate.'),
    tls_ca_path: field('string', '', "CA certificates (PEM) to verify the control plane's certificate with; empty: the system's CAs."),
    tls_server_name: field('string', '', "Name to verify the control plane's certificate against (and send as SNI); empty: the host of -gateway.xds.server-address."),
  }),
  grpc_max_message_bytes: field(
    'bytes',
    100 * 1024 * 1024,
    'Largest httpgrpc message to or from dns:// backends; larger request bodies get 413 (Mimir distributor default).',
    { flag: 'gateway.grpc-max-message-bytes', check: positive },
  ),
  httpgrpc_client: field(
    'string',
    'socket',
    'HTTP/2 client for dns:// backends: socket (our own, on net.Socket) or node-http2 (the previous one, kept for one release to compare and roll back).',
    {
      flag: 'gateway.httpgrpc-client',
      check: (v) => ((HTTPGRPC_CLIENTS as readonly unknown[]).includes(v) ? undefined : `must be one of ${HTTPGRPC_CLIENTS.join(', ')}; got ${JSON.stringify(v)}`),
    },
  ),
};
