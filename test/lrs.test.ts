import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startDistributors, type Distributors } from './support/distributors.js';
import { getJson, startControlPlane, until, type RunningControlPlane } from './support/control-plane.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import type { ClusterLoadView, NodeLoadView } from '../control-plane/lrs/load-store.js';
import type { NodePage } from '../control-plane/xds/node-query.js';

// Load reporting end to end: a real control plane serving LRS, two gateways fed over ADS that report
// per backend and endpoint over LRS, three real httpgrpc distributors behind real DNS. What the
// control plane's /load says must be what the distributors counted, request for request.

interface LoadView {
  clusters: ClusterLoadView[];
  nodes: NodeLoadView[];
}

const configFor = (url: string): string =>
  `gateway:\n  proxy:\n    distributor:\n      url: ${url}\n    query_frontend:\n      url: http://127.0.0.1:9\n`;

describe('LRS: gateways report load per backend and endpoint to the control plane', () => {
  let cluster: Distributors;
  let cp: RunningControlPlane;
  const gateways: RunningGateway[] = [];
  const load = (): Promise<LoadView> => getJson<LoadView>(`${cp.url}/control-plane/api/v1/load`);
  const distributor = async (): Promise<ClusterLoadView | undefined> => (await load()).clusters.find((c) => c.name === 'distributor');

  beforeAll(async () => {
    cluster = await startDistributors(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    cp = await startControlPlane({ yaml: configFor(cluster.url), args: ['-control-plane.load-reporting-interval=1s'] });
    for (const id of ['lrs-gw-1', 'lrs-gw-2']) {
      gateways.push(await startGateway(['-target=gateway', `-gateway.xds.server-address=${cp.xdsAddress}`, `-gateway.xds.node-id=${id}`, '-gateway.xds.cluster=edge']));
    }
    await until(async () => (await load()).nodes.length === 2, 10_000, 'both gateways to open their LRS streams');
  });

  afterAll(async () => {
    for (const g of gateways) await g.stop();
    await cp?.stop();
    await cluster?.close();
  });

  it('counts every request on the endpoint that served it, as the distributors counted them', async () => {
    const N = 90; // per gateway
    const before = cluster.servers.map((s) => s.requestCount);
    await Promise.all(
      gateways.map(async (g) => {
        for (let i = 0; i < N; i++) {
          const res = await request(`${g.url}/api/v1/push`, { method: 'POST', body: 'x', headers: { 'x-scope-orgid': 't' } });
          await res.body.text();
          expect(res.statusCode).toBe(200);
        }
      }),
    );
    const counted = new Map(cluster.servers.map((s, i) => [`${s.host}:${cluster.port}`, s.requestCount - before[i]!]));
    let view: ClusterLoadView | undefined;
    await until(async () => {
      view = await distributor();
      return view?.lastMinute.issued === 2 * N && view.lastMinute.succeeded === 2 * N;
    }, 10_000, `the control plane to hold ${2 * N} issued and succeeded distributor requests`);
    expect(view!.lastMinute.failed).toBe(0);
    expect(view!.endpoints.map((e) => [e.address, e.issued])).toEqual([...counted].sort());
    for (const e of view!.endpoints) expect(e.share).toBeCloseTo(counted.get(e.address)! / (2 * N), 5);
    expect(view!.imbalance).not.toBeNull();
    expect(view!.series.length).toBe(90);
    // The chart shows complete 10 s buckets only: the requests appear once theirs is complete.
    await until(async () => (await distributor())?.series.some((p) => p.rps > 0) === true, 15_000, 'a complete bucket with the requests');
  });

  it('counts no answer and 5xx as failed, per endpoint', async () => {
    const bad = cluster.servers[0]!;
    bad.handler = async () => ({ code: 503, headers: {}, body: Buffer.from('overloaded') });
    const failedBefore = (await distributor())?.lastMinute.failed ?? 0;
    const badBefore = bad.requestCount;
    for (let i = 0; i < 30; i++) await (await request(`${gateways[0]!.url}/api/v1/push`, { method: 'POST', body: 'x' })).body.text();
    const badServed = bad.requestCount - badBefore;
    expect(badServed).toBeGreaterThan(0);
    await until(async () => (await distributor())?.lastMinute.failed === failedBefore + badServed, 10_000, `${badServed} more failed requests`);
    const ep = (await distributor())!.endpoints.find((e) => e.address === `${bad.host}:${cluster.port}`)!;
    expect(ep.failed).toBe(badServed);
    expect(ep.errorRate).toBeGreaterThan(0);
    // The http:// backend has nobody listening: no answer is a failure too.
    const res = await request(`${gateways[0]!.url}/prometheus/api/v1/query?query=up`);
    await res.body.text();
    expect(res.statusCode).toBeGreaterThanOrEqual(500);
    await until(async () => (await load()).clusters.find((c) => c.name === 'query_frontend')?.lastMinute.failed === 1, 10_000, 'the failed query_frontend request');
  });

  it('joins each gateway\'s request rate into /nodes, and forgets a gateway that left', async () => {
    const page = await getJson<NodePage>(`${cp.url}/control-plane/api/v1/nodes?prefix=lrs-gw-&sort=requests&order=desc`);
    expect(page.nodes.map((n) => n.nodeId).sort()).toEqual(['lrs-gw-1', 'lrs-gw-2']);
    for (const n of page.nodes) expect(n.load?.rps).toBeGreaterThan(0);
    // Sorted by their rates, highest first (which gateway is ahead depends on when each one's reports
    // fell on a busy machine: the rate is requests over the intervals it reported in the window).
    expect(page.nodes[0]!.load!.rps).toBeGreaterThanOrEqual(page.nodes[1]!.load!.rps);
    await gateways.pop()!.stop();
    await until(async () => (await load()).nodes.every((n) => n.nodeId !== 'lrs-gw-2'), 10_000, 'the stopped gateway to leave /load');
    expect((await load()).nodes.map((n) => n.nodeId)).toEqual(['lrs-gw-1']);
  });
});
