import * as grpc from '@grpc/grpc-js';
import { loadEnvoyService } from '../../xds/ads-service.js';
import { CSDS_SERVICE, type ClientStatusResponseMessage } from '../../control-plane/csds/csds-server.js';

// A CSDS client built from Envoy's csds.proto alone, as an xDS tool (istioctl, grpcdebug) would be.

export interface CsdsClient {
  /** FetchClientStatus; rejects with the grpc.ServiceError of a refusal. */
  fetch(req: object): Promise<ClientStatusResponseMessage>;
  /** A StreamClientStatus call. */
  stream(): grpc.ClientDuplexStream<object, ClientStatusResponseMessage>;
  close(): void;
}

export function csdsClient(address: string): CsdsClient {
  const { Client } = loadEnvoyService('envoy/service/status/v3/csds.proto', CSDS_SERVICE);
  const client = new Client(address, grpc.credentials.createInsecure());
  const methods = client as unknown as Record<string, (...args: unknown[]) => unknown>;
  return {
    fetch: (req) =>
      new Promise((resolve, reject) =>
        methods['FetchClientStatus']!.call(client, req, (err: grpc.ServiceError | null, res: ClientStatusResponseMessage) => (err ? reject(err) : resolve(res))),
      ),
    stream: () => methods['StreamClientStatus']!.call(client) as grpc.ClientDuplexStream<object, ClientStatusResponseMessage>,
    close: () => client.close(),
  };
}
