import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistributors, type Distributors } from './support/distributors.js';
import { nodesOf, snapshotOf, startControlPlane, statusOf, until, type RunningControlPlane } from './support/control-plane.js';
import { HttpGrpcServer } from '../examples/local/httpgrpc-server.js';
import { grpcXdsClient, handleCall } from './support/grpc-xds-client.js';
import { TYPE_URL } from '../xds/resource.js';
import type { NodeView } from '../control-plane/xds/node-registry.js';

// Conformance with a real proxyless gRPC xDS client (@grpc/grpc-js-xds, gRFC A27/A28): it dials
// `xds:///distributor`, gets Listener → Cluster → ClusterLoadAssignment from our control plane and
// balances /httpgrpc.HTTP/Handle calls over real httpgrpc servers found through real DNS. Nothing is
// restarted between steps: DNS changes and config edits reach the client over the open ADS stream.

const NODE_ID = 'grpc-conformance-client';
const SECOND_NAME = 'distributor-b.test';

/** The distributor block of the control plane's config. */
const configFor = (url: string): string => `gateway:\n  proxy:\n    distributor:\n      url: ${url}\n      timeout: 30s\n`;

describe('@grpc/grpc-js-xds client against the control plane', () => {
  let cluster: Distributors;
  let secondSet: HttpGrpcServer[] = [];
  let cp: RunningControlPlane;
  let client: grpc.Client;

  beforeAll(async () => {
    cluster = await startDistributors(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    cp = await startControlPlane({ yaml: configFor(cluster.url) });
    client = grpcXdsClient(cp.xdsAddress, NODE_ID, 'grpc-clients');
  });

  afterAll(async () => {
    client?.close();
    await cp?.stop();
    await cluster?.close();
    for (const s of secondSet) s.kill();
  });

  const allServers = (): HttpGrpcServer[] => [...cluster.servers, ...secondSet];

  /** One Handle call through the xds: channel; resolves with the HTTP status code inside. */
  const call = (): Promise<number> => handleCall(client, [{ key: 'X-Scope-OrgID', values: ['t1'] }]);

  /** `n` sequential calls, each must answer 200; requests per server host over those calls. */
  async function spread(n: number): Promise<Record<string, number>> {
    const before = new Map(allServers().map((s) => [s, s.requestCount]));
    for (let i = 0; i < n; i++) expect(await call()).toBe(200);
    return Object.fromEntries(allServers().map((s) => [s.host, s.requestCount - (before.get(s) ?? 0)]));
  }

  /** Calls until `done` holds (each call must succeed), bounded in count and time. */
  async function callUntil(done: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let calls = 0;
    while (!(await done())) {
      if (Date.now() > deadline || calls > 20_000) throw new Error(`after ${calls} calls in ${timeoutMs} ms: still not ${what}`);
      expect(await call()).toBe(200);
      calls++;
    }
    return calls;
  }

  /** Calls until `streak` calls in a row miss `gone` (each call must succeed). */
  async function untilAvoided(gone: HttpGrpcServer, what: string, streak = 30): Promise<void> {
    let run = 0;
    let last = gone.requestCount;
    await callUntil(() => {
      run = gone.requestCount === last ? run + 1 : 0;
      last = gone.requestCount;
      return run > streak;
    }, what);
  }

  const waitingForDns = async (): Promise<readonly string[]> => (await statusOf(cp.url)).build.waitingForDns;

  /** The client's entry in /control-plane/api/v1/nodes once it has ACKed what is served. */
  async function ackedEverything(): Promise<NodeView> {
    let node: NodeView | undefined;
    await until(
      async () => {
        const [nodes, snap] = await Promise.all([nodesOf(cp.url), snapshotOf(cp.url)]);
        node = nodes.find((n) => n.nodeId === NODE_ID && n.state === 'connected');
        const acked = (t: string, short: string): boolean => node?.types[t]?.ackedVersion === snap.versions[short];
        return acked(TYPE_URL.listener, 'Listener') && acked(TYPE_URL.cluster, 'Cluster') && acked(TYPE_URL.endpoint, 'ClusterLoadAssignment');
      },
      5000,
      'the gRPC client to ACK the served Listener, Cluster and ClusterLoadAssignment versions',
    );
    return node!;
  }

  it('resolves xds:///distributor and round-robins calls evenly over the three DNS records', async () => {
    await callUntil(() => cluster.servers.every((s) => s.requestCount > 0), 'reaching all three distributors');
    const got = await spread(300);
    expect(Object.keys(got).sort()).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    for (const n of Object.values(got)) expect(Math.abs(n - 100)).toBeLessThanOrEqual(1);

    const node = await ackedEverything();
    expect(node.cluster).toBe('grpc-clients');
    expect(node.userAgent).toMatch(/^gRPC Node/);
    for (const t of Object.values(node.types)) expect(t.lastNack).toBeNull();
  });

  it('moves traffic onto a fourth server once its DNS record appears', async () => {
    const fourth = await cluster.add('127.0.0.5');
    await callUntil(() => fourth.requestCount > 0, 'reaching the new 127.0.0.5'); // lookup period 1 s, TTL 1 s
    const got = await spread(400);
    for (const host of ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']) expect(Math.abs(got[host]! - 100)).toBeLessThanOrEqual(2);
    for (const t of Object.values((await ackedEverything()).types)) expect(t.lastNack).toBeNull();
  });

  it('takes a server off once its DNS record is removed', async () => {
    const gone = cluster.servers[0]!;
    cluster.publish(cluster.servers.slice(1).map((s) => s.host));
    await untilAvoided(gone, `avoiding the removed ${gone.host}`);
    const got = await spread(300);
    expect(got[gone.host]).toBe(0);
    for (const host of ['127.0.0.3', '127.0.0.4', '127.0.0.5']) expect(Math.abs(got[host]! - 100)).toBeLessThanOrEqual(1);
  });

  it('follows a config edit that points distributor at another DNS name, without failed calls', async () => {
    // A second set of distributors under another name, on the same DNS server.
    const first = await HttpGrpcServer.start({ host: '127.0.0.6', port: 0 });
    secondSet = [first];
    for (const h of ['127.0.0.7', '127.0.0.8']) secondSet.push(await HttpGrpcServer.start({ host: h, port: first.port }));
    cluster.dns.setRecords(SECOND_NAME, secondSet.map((s) => ({ type: 'A' as const, address: s.host, ttl: 1 })));
    const versionsBefore = (await snapshotOf(cp.url)).versions;

    // DNS goes quiet first, so the new name's first answer is late: until it comes, the control
    // plane must keep serving the old endpoints rather than an empty set (calls would fail).
    cluster.dns.setFailure('drop');
    cp.writeConfig(configFor(`dns://${cluster.dns.authority}/${SECOND_NAME}:${first.port}`));
    await callUntil(async () => (await waitingForDns()).length > 0, 'the control plane to report it waits for DNS');
    expect(await waitingForDns()).toEqual([`dns://${cluster.dns.authority}/${SECOND_NAME}:${first.port}`]);
    const quietUntil = Date.now() + 300;
    await callUntil(() => Date.now() > quietUntil, 'the end of the quiet period');
    expect(secondSet.every((s) => s.requestCount === 0)).toBe(true);
    cluster.dns.setFailure(undefined);
    await callUntil(() => secondSet.every((s) => s.requestCount > 0), 'reaching all of the second set');
    const oldSet = cluster.servers;
    const oldBefore = oldSet.map((s) => s.requestCount);
    const got = await spread(300);
    oldSet.forEach((s, i) => expect(s.requestCount).toBe(oldBefore[i]));
    for (const s of secondSet) expect(Math.abs(got[s.host]! - 100)).toBeLessThanOrEqual(1);

    const node = await ackedEverything();
    expect(node.types[TYPE_URL.endpoint]?.ackedVersion).not.toBe(versionsBefore['ClusterLoadAssignment']);
    for (const t of Object.values(node.types)) expect(t.lastNack).toBeNull();
  });
});
