// A proxyless gRPC xDS client (@grpc/grpc-js-xds, gRFC A27) pointed at our control plane, and one
// /httpgrpc.HTTP/Handle call through it. grpc-js-xds reads its bootstrap once per process, when the
// first xds: channel resolves (vitest runs each file in its own fork).

import * as grpc from '@grpc/grpc-js';
import { register } from '@grpc/grpc-js-xds';
import { decodeResponse, encodeRequest } from '../../data-plane/httpgrpc/codec.js';
import { HANDLE_METHOD } from '../../data-plane/httpgrpc/connection-pool.js';

/** A client for `xds:///<target>` whose node is `nodeId` of `cluster`, bootstrapped to `xdsAddress`. */
export function grpcXdsClient(xdsAddress: string, nodeId: string, cluster: string, target = 'distributor'): grpc.Client {
  process.env['GRPC_XDS_BOOTSTRAP_CONFIG'] = JSON.stringify({
    xds_servers: [{ server_uri: xdsAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: nodeId, cluster, locality: {} },
  });
  register();
  return new grpc.Client(`xds:///${target}`, grpc.credentials.createInsecure());
}

/** One Handle call; resolves with the HTTP status code inside the answer. */
export function handleCall(client: grpc.Client, headers: { key: string; values: string[] }[] = []): Promise<number> {
  const req = encodeRequest({ method: 'POST', url: '/api/v1/push', headers, body: Buffer.from('x') });
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(HANDLE_METHOD, (b: Buffer) => b, (b: Buffer) => b, req, { deadline: Date.now() + 30_000 }, (err, res) =>
      err || !res ? reject(err ?? new Error('no response')) : resolve(decodeResponse(res).code),
    ),
  );
}
