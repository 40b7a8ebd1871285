// -server.workers and load reporting (LRS) together: the workers serve the traffic, the primary's
// one xDS client reports it. What the control plane's /load says for the gateway must be what the
// distributors counted, endpoint by endpoint: every worker's share, nothing counted twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import type { ClusterLoadView, NodeLoadView } from '../control-plane/lrs/load-store.js';
import { startCli, type Child } from './support/cli.js';
import { getJson, until } from './support/control-plane.js';
import { startDistributors, type Distributors } from './support/distributors.js';
import { startControlPlaneProcess, WatchedConfig, type ControlPlaneProcess } from './support/fleet.js';

interface LoadView {
  clusters: ClusterLoadView[];
  nodes: NodeLoadView[];
}

/** A push on a connection of its own: the primary hands each new connection to the next worker. */
async function push(url: string): Promise<number> {
  const agent = new Agent({ pipelining: 0 });
  try {
    const res = await request(`${url}/api/v1/push`, { method: 'POST', body: 'x', headers: { 'x-scope-orgid': 't' }, dispatcher: agent });
    await res.body.dump();
    return res.statusCode;
  } finally {
    await agent.close();
  }
}

describe('LRS with -server.workers=2: the primary reports every worker\'s load', () => {
  let cluster: Distributors;
  let config: WatchedConfig;
  let cp: ControlPlaneProcess;
  let gw: Child;
  const distributor = async (): Promise<ClusterLoadView | undefined> =>
    (await getJson<LoadView>(`${cp.child.url}/control-plane/api/v1/load`)).clusters.find((c) => c.name === 'distributor');

  beforeAll(async () => {
    cluster = await startDistributors(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    config = new WatchedConfig(`gateway:\n  proxy:\n    distributor:\n      url: ${cluster.url}\n`);
    cp = await startControlPlaneProcess(config, 0, ['-control-plane.load-reporting-interval=1s']);
    gw = await startCli(
      ['-target=gateway', `-gateway.xds.server-address=${cp.xdsAddress}`, '-gateway.xds.node-id=workers-gw', '-server.workers=2'],
      {},
      { readyTimeoutMs: 60_000, keepOutput: 20_000 },
    );
    await until(async () => (await getJson<LoadView>(`${cp.child.url}/control-plane/api/v1/load`)).nodes.some((n) => n.nodeId === 'workers-gw'), 30_000, 'the gateway to open its LRS stream');
  }, 120_000);

  afterAll(async () => {
    await gw?.stop();
    await cp?.child.stop();
    config?.remove();
    await cluster?.close();
  });

  it('issued, succeeded and failed per endpoint match what the distributors counted', async () => {
    // One distributor answers 503: the gateway's "failed" (a 5xx from the backend).
    const bad = cluster.servers[0]!;
    bad.handler = async () => ({ code: 503, headers: {}, body: Buffer.from('overloaded') });
    const N = 60; // bounded: 60 pushes, 3 at a time, each on a fresh connection (both workers serve)
    const statuses: number[] = [];
    for (let i = 0; i < N; i += 3) statuses.push(...(await Promise.all([0, 1, 2].map(() => push(gw.url)))));
    const counted = new Map(cluster.servers.map((s) => [`${s.host}:${cluster.port}`, s.requestCount]));
    const badCount = counted.get(`${bad.host}:${cluster.port}`)!;
    expect(badCount).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 200)).toHaveLength(N - badCount);
    expect([...counted.values()].reduce((a, b) => a + b, 0)).toBe(N);

    // Workers report to the primary every 0.5 s, the primary to the control plane every 1 s: poll.
    let view: ClusterLoadView | undefined;
    await until(async () => {
      view = await distributor();
      return view?.lastMinute.issued === N && view.lastMinute.succeeded + view.lastMinute.failed === N;
    }, 30_000, `the control plane to hold ${N} issued distributor requests`);
    expect(view!.endpoints.map((e) => [e.address, e.issued]).sort()).toEqual([...counted].sort());
    for (const e of view!.endpoints) {
      const isBad = e.address === `${bad.host}:${cluster.port}`;
      expect([e.address, e.failed, e.succeeded]).toEqual([e.address, isBad ? e.issued : 0, isBad ? 0 : e.issued]);
    }
    // Exactly N, not 2N: had workers reported on their own too, more reports would arrive; give them time.
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await distributor())!.lastMinute.issued).toBe(N);
  });

  it('requests in progress in the workers show as in progress, and go once answered', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    for (const s of cluster.servers) {
      s.handler = async () => {
        await gate;
        return { code: 200, headers: {}, body: Buffer.from('ok') };
      };
    }
    const K = 4;
    const pending = Array.from({ length: K }, () => push(gw.url));
    try {
      await until(async () => (await distributor())?.lastMinute.inProgress === K, 30_000, `${K} requests in progress at the control plane`);
    } finally {
      release();
    }
    expect(await Promise.all(pending)).toEqual(Array(K).fill(200));
    await until(async () => (await distributor())?.lastMinute.inProgress === 0, 30_000, 'nothing in progress once answered');
  });
});
