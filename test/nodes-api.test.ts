import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { AdsTestClient, type SotwTestStream } from './support/ads-client.js';
import { getJson, startControlPlane, until, type RunningControlPlane } from './support/control-plane.js';
import { TYPE_URL } from '../xds/resource.js';
import type { NodePage } from '../control-plane/xds/node-query.js';

// /control-plane/api/v1/nodes at fleet scale (issue 11 item 4): summary counts over the whole fleet,
// filters by state, fleet cluster and node id prefix, and pages, against a real control plane with
// raw ADS streams that ACK, NACK, leave an answer out, or go away.

const ids = [...['edge', 'core'].flatMap((c) => [0, 1, 2, 3, 4, 5].map((i) => `${c}-${i}`))];

describe('/control-plane/api/v1/nodes summary, filters and paging', () => {
  let cp: RunningControlPlane;
  let client: AdsTestClient;
  const streams = new Map<string, SotwTestStream>();
  const page = (qs: string): Promise<NodePage> => getJson<NodePage>(`${cp.url}/control-plane/api/v1/nodes${qs}`);

  beforeAll(async () => {
    cp = await startControlPlane({ yaml: 'gateway:\n  proxy:\n    default: { url: "http://127.0.0.2:9" }\n' });
    client = new AdsTestClient(cp.xdsPort);
    for (const id of ids) {
      const s = client.sotw();
      s.send({ node: { id, cluster: id.split('-')[0]!, user_agent_name: 'nodes-api-test', metadata: null }, type_url: TYPE_URL.cluster, resource_names: [] });
      const res = await s.next(5000);
      if (id === 'core-1') s.nack(res, 'cluster default: no such thing');
      else if (id !== 'core-2') s.ack(res);
      streams.set(id, s);
    }
    streams.get('edge-5')!.cancel();
    await until(async () => {
      const { summary } = await page('');
      return summary.connected === 11 && summary.types['Cluster']!.synced === 9 && summary.types['Cluster']!.nacked === 1;
    }, 10_000, 'every stream answered and edge-5 gone');
  });

  afterAll(async () => {
    for (const s of streams.values()) s.cancel();
    client?.close();
    await cp?.stop();
  });

  it('counts the whole fleet per type: synced, sent and not ACKed, NACKed, not sent', async () => {
    const all = await page('');
    expect(all.summary.connected).toBe(11);
    expect(all.summary.disconnected).toBe(1);
    expect(all.summary.synced).toBe(9);
    expect(all.summary.types['Cluster']).toEqual({ synced: 9, 'not-acked': 1, nacked: 1, 'not-sent': 0 });
    expect(all.summary.types['Listener']).toEqual({ synced: 0, 'not-acked': 0, nacked: 0, 'not-sent': 11 });
    expect(all.total).toBe(12);
    const core1 = all.nodes.find((n) => n.nodeId === 'core-1')!;
    expect(core1.sync['Cluster']).toBe('nacked');
    expect(core1.types[TYPE_URL.cluster]?.lastNack?.message).toBe('cluster default: no such thing');
  });

  it('filters by state, fleet cluster and node id prefix; the summary stays fleet-wide', async () => {
    const names = (p: NodePage): string[] => p.nodes.map((n) => n.nodeId);
    expect(names(await page('?state=nacked'))).toEqual(['core-1']);
    expect(names(await page('?state=not-acked'))).toEqual(['core-2']);
    expect(names(await page('?state=disconnected'))).toEqual(['edge-5']);
    const edge = await page('?state=connected&cluster=edge');
    expect(names(edge)).toEqual(['edge-0', 'edge-1', 'edge-2', 'edge-3', 'edge-4']);
    expect(edge.summary.connected).toBe(11);
    expect(names(await page('?prefix=core-&state=synced'))).toEqual(['core-0', 'core-3', 'core-4', 'core-5']);
    expect((await page('?cluster=nowhere')).total).toBe(0);
  });

  it('pages in a stable order without overlap, either direction', async () => {
    const seen: string[] = [];
    for (let offset = 0; offset < 12; offset += 5) {
      const p = await page(`?limit=5&offset=${offset}`);
      expect(p.total).toBe(12);
      expect(p.nodes.length).toBe(Math.min(5, 12 - offset));
      seen.push(...p.nodes.map((n) => n.nodeId));
    }
    expect(seen).toEqual([...ids].sort());
    const desc = await page('?sort=node&order=desc&limit=2');
    expect(desc.nodes.map((n) => n.nodeId)).toEqual(['edge-5', 'edge-4']);
    const byCluster = await page('?sort=cluster&limit=1');
    expect(byCluster.nodes[0]!.cluster).toBe('core');
  });

  it('answers 400 naming the parameter, the value and what it accepts', async () => {
    const bad = async (qs: string): Promise<string> => {
      const res = await request(`${cp.url}/control-plane/api/v1/nodes${qs}`);
      expect(res.statusCode).toBe(400);
      return ((await res.body.json()) as { error: string }).error;
    };
    expect(await bad('?state=happy')).toBe('state="happy": want one of connected, disconnected, unknown, synced, not-acked, nacked');
    expect(await bad('?limit=5000')).toBe('limit="5000": want a whole number from 0 to 1000');
    expect(await bad('?limit=0')).toBe('limit=0: want 1 to 1000');
    expect(await bad('?offset=-1')).toMatch(/^offset="-1": want a whole number/);
    expect(await bad('?sort=rps')).toBe('sort="rps": want one of node, cluster, connected, requests, errors');
    expect(await bad('?status=nacked')).toMatch(/^unknown parameter "status"; known: state, cluster/);
    expect(await bad('?state=nacked&state=synced')).toBe('state: given 2 times; give it once');
  });
});
