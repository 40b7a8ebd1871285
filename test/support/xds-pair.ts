// A control plane from YAML, one gateway fed by it over ADS, and a @grpc/grpc-js-xds client on the same
// control plane: the set-up of tests that check what both kinds of xDS client do with one resource.
import type * as grpc from '@grpc/grpc-js';
import { Client } from 'undici';
import { expect } from 'vitest';
import { nodesOf, startControlPlane, until, type RunningControlPlane } from './control-plane.js';
import { startGateway, type RunningGateway } from './gateway.js';
import { grpcXdsClient } from './grpc-xds-client.js';

export interface XdsPair {
  readonly cp: RunningControlPlane;
  readonly gw: RunningGateway;
  readonly grpcClient: grpc.Client;
  /** One push through the gateway (one keep-alive connection); its status. */
  post(): Promise<number>;
  /** Waits until the gRPC client ACKed `version` of `typeUrl`, then checks it NACKed nothing. */
  grpcAcked(typeUrl: string, version: string | undefined): Promise<void>;
  close(): Promise<void>;
}

export async function startXdsPair(o: { yaml: string; name: string; cpArgs?: string[]; gatewayArgs?: string[] }): Promise<XdsPair> {
  const cp = await startControlPlane({ yaml: o.yaml, ...(o.cpArgs ? { args: o.cpArgs } : {}) });
  const gw = await startGateway(['-target=gateway', `-gateway.xds.server-address=${cp.xdsAddress}`, `-gateway.xds.node-id=${o.name}-gw`, ...(o.gatewayArgs ?? [])]);
  const http = new Client(gw.url, { pipelining: 1 });
  const grpcClient = grpcXdsClient(cp.xdsAddress, `${o.name}-grpc`, 'grpc-clients');
  return {
    cp,
    gw,
    grpcClient,
    async post() {
      const res = await http.request({ path: '/api/v1/push', method: 'POST', body: 'x', headers: { 'x-scope-orgid': 't' } });
      await res.body.dump();
      return res.statusCode;
    },
    async grpcAcked(typeUrl, version) {
      const id = `${o.name}-grpc`;
      await until(async () => {
        const node = (await nodesOf(cp.url)).find((n) => n.nodeId === id && n.state === 'connected');
        return node?.types[typeUrl]?.ackedVersion === version;
      }, 10_000, `the gRPC client to ACK ${typeUrl} ${version}`);
      const node = (await nodesOf(cp.url)).find((n) => n.nodeId === id)!;
      for (const t of Object.values(node.types)) expect(t.lastNack).toBeNull();
    },
    async close() {
      grpcClient.close();
      await http.close();
      await gw.stop();
      await cp.stop();
    },
  };
}
