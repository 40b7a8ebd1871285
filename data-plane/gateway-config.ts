// The gateway's own part of the `gateway:` config block: how it reaches the control plane and the
// httpgrpc message limit. (`gateway.proxy`, the backends, is the control plane's input.)

import { hostname } from 'node:os';
import { field, positive, section, type Node } from '../core/config-schema.js';

/** Fields next to `proxy` under `gateway:` (GEM's layout). */
export const gatewayFields: Readonly<Record<string, Node>> = {
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
};
