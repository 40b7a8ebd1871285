import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistributors, type Distributors } from './support/distributors.js';
import { getJson, startControlPlane, until, type RunningControlPlane } from './support/control-plane.js';
import { grpcXdsClient, handleCall } from './support/grpc-xds-client.js';
import type { ClusterLoadView, NodeLoadView } from '../control-plane/lrs/load-store.js';

// A load reporter that is not ours: @grpc/grpc-js-xds (gRFC A27) dials xds:///distributor through the
// control plane; the Cluster names the control plane as its LRS server (`lrs_server: {self: {}}`), so
// the client opens StreamLoadStats on its own and its load shows up in /control-plane/api/v1/load.

const NODE_ID = 'grpc-lrs-client';

describe('@grpc/grpc-js-xds reports its load to the control plane', () => {
  let cluster: Distributors;
  let cp: RunningControlPlane;
  let client: grpc.Client;

  beforeAll(async () => {
    cluster = await startDistributors(['127.0.0.2', '127.0.0.3']);
    cp = await startControlPlane({
      yaml: `gateway:\n  proxy:\n    distributor:\n      url: ${cluster.url}\n`,
      args: ['-control-plane.load-reporting-interval=1s'],
    });
    client = grpcXdsClient(cp.xdsAddress, NODE_ID, 'grpc-clients');
  });

  afterAll(async () => {
    client?.close();
    await cp?.stop();
    await cluster?.close();
  });

  const call = (): Promise<number> => handleCall(client);

  it('shows the client as a reporting node and its calls under the distributor cluster', async () => {
    const N = 40;
    for (let i = 0; i < N; i++) expect(await call()).toBe(200);
    const served = cluster.servers.reduce((a, s) => a + s.requestCount, 0);
    expect(served).toBe(N);
    let view: { clusters: ClusterLoadView[]; nodes: NodeLoadView[] } | undefined;
    await until(
      async () => {
        view = await getJson(`${cp.url}/control-plane/api/v1/load`);
        return view?.clusters.find((c) => c.name === 'distributor')?.lastMinute.succeeded === N;
      },
      15_000,
      `the control plane to hold the client's ${N} calls`,
    );
    const node = view!.nodes.find((n) => n.nodeId === NODE_ID)!;
    expect(node.cluster).toBe('grpc-clients');
    expect(node.userAgent).toMatch(/^gRPC Node/);
    expect(node.reports).toBeGreaterThan(0);
    const d = view!.clusters.find((c) => c.name === 'distributor')!;
    expect(d.lastMinute.issued).toBe(N);
    expect(d.lastMinute.failed).toBe(0);
  });
});
