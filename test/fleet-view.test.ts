import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { FleetHistory } from '../control-plane/dashboard/fleet-history.js';
import { mergeClusterViews } from '../control-plane/fleet/load-merge.js';
import { FleetView } from '../control-plane/fleet/fleet-view.js';
import type { ClusterLoadView } from '../control-plane/lrs/load-store.js';
import { LoadStore } from '../control-plane/lrs/load-store.js';
import { NodeRegistry } from '../control-plane/xds/node-registry.js';
import { TYPE_URL } from '../xds/resource.js';

// The fleet view's pure parts: per-backend load of several replicas as one (sums exact, shares
// recomputed), and what a replica tells its peers: only what changed since the generations they hold.

function view(name: string, rps: number, eps: Record<string, number>, at: string, ejection: { reporters: number; ejectedBy?: Record<string, number> } = { reporters: 1 }): ClusterLoadView {
  const total = Object.values(eps).reduce((a, b) => a + b, 0);
  return {
    name,
    lastMinute: { issued: total, succeeded: total, failed: 0, rps, errorRps: 0, inProgress: 1, dropped: 0 },
    endpoints: Object.entries(eps).map(([address, issued]) => ({ address, issued, succeeded: issued, failed: 0, inProgress: 0, share: issued / total, errorRate: 0, lastReportAt: at, ejectedBy: ejection.ejectedBy?.[address] ?? 0, reporters: ejection.reporters })),
    imbalance: null,
    series: [{ at, rps, errorRps: 0 }],
  };
}

describe('fleet view', () => {
  it('merges backends over replicas: rates and counts add up, shares come from the summed counts', () => {
    const at = '2026-01-01T00:00:00.000Z';
    const [d] = mergeClusterViews([
      [view('distributor', 100, { 'a:1': 300, 'b:1': 300 }, at)],
      [view('distributor', 50, { 'a:1': 300 }, at)],
    ]);
    expect(d!.lastMinute.rps).toBe(150);
    expect(d!.lastMinute.issued).toBe(900);
    expect(d!.lastMinute.inProgress).toBe(2);
    expect(d!.endpoints.map((e) => [e.address, e.issued, e.share])).toEqual([['a:1', 600, 2 / 3], ['b:1', 300, 1 / 3]]);
    expect(d!.imbalance).toBe(2);
    expect(d!.series).toEqual([{ at, rps: 150, errorRps: 0 }]);
  });

  it('counts an ejected endpoint over the gateways of every replica: ejected by k of n', () => {
    const at = '2026-01-01T00:00:00.000Z';
    const [d] = mergeClusterViews([
      [view('distributor', 100, { 'a:1': 300, 'b:1': 300 }, at, { reporters: 2, ejectedBy: { 'a:1': 1 } })],
      [view('distributor', 50, { 'a:1': 10, 'b:1': 300 }, at, { reporters: 1, ejectedBy: { 'a:1': 1 } })],
      [view('distributor', 50, { 'b:1': 300 }, at, { reporters: 3 })],
    ]);
    expect(d!.endpoints.map((e) => [e.address, e.ejectedBy, e.reporters])).toEqual([['a:1', 2, 6], ['b:1', 0, 6]]);
  });

  it('tells a peer only what changed since the generations it holds; everything to another instance', () => {
    const nodes = new NodeRegistry();
    const load = new LoadStore();
    const fleet = new FleetView({ nodes, load, history: new FleetHistory(), logger: pino({ level: 'silent' }) });
    const a = nodes.connect('sotw', 'ipv4:127.0.0.1:1');
    a.setNode({ id: 'gw-a', cluster: 'edge', user_agent_name: 'metrics-gateway', user_agent_version: '1.2.3', metadata: null });
    const b = nodes.connect('sotw', 'ipv4:127.0.0.1:2');
    b.setNode({ id: 'gw-b', cluster: 'edge', user_agent_name: 'metrics-gateway', user_agent_version: '1.2.3', metadata: null });

    const first = fleet.peerState({ instance: '', nodes: -1, load: -1, history: -1 });
    expect(first.nodes?.full).toBe(true);
    expect(first.nodes?.changed.map((n) => n.nodeId)).toEqual(['gw-a', 'gw-b']);
    expect(first.nodes?.changed[0]?.userAgentVersion).toBe('1.2.3');
    const held = { instance: first.instance, nodes: first.nodes!.generation, load: first.load!.generation, history: first.history!.generation };
    expect(fleet.peerState(held)).toEqual({ instance: fleet.instance, nodes: null, load: null, history: null });

    b.sent(TYPE_URL.cluster, 'v1', '1');
    const next = fleet.peerState(held);
    expect(next.nodes?.full).toBe(false);
    expect(next.nodes?.changed.map((n) => n.nodeId)).toEqual(['gw-b']);
    expect(next.nodes?.ids).toEqual([a.streamId, b.streamId]);
    expect(next.load).toBeNull();

    // Load rows: only the streams that reported since.
    load.nodeJoined(11, 'gw-a', 'edge', 'x');
    load.nodeJoined(12, 'gw-b', 'edge', 'x');
    const l1 = fleet.peerState(held).load!;
    expect(l1.full).toBe(false);
    expect(l1.ids).toEqual([11, 12]);
    load.record(12, [], 1000);
    const l2 = fleet.peerState({ ...held, load: l1.generation }).load!;
    expect(l2.nodes.map((n) => n.nodeId)).toEqual(['gw-b']);
    load.nodeLeft(11);
    expect(fleet.peerState({ ...held, load: l2.generation }).load!.ids).toEqual([12]);

    // A restarted peer (another instance) or a generation from the future: everything again.
    expect(fleet.peerState({ ...held, instance: 'other' }).nodes?.full).toBe(true);
    expect(fleet.peerState({ ...held, nodes: 10_000 }).nodes?.changed).toHaveLength(2);
  });

  it('without peers, the merged view is this replica and summary counts nothing unknown', () => {
    const nodes = new NodeRegistry({ replica: 'cp-0' });
    const fleet = new FleetView({ nodes, load: new LoadStore(), history: new FleetHistory(), logger: pino({ level: 'silent' }) });
    nodes.connect('delta', 'p').setNode({ id: 'gw', cluster: 'edge', user_agent_name: 'x', metadata: null });
    const page = fleet.query({});
    expect(page.summary).toMatchObject({ connected: 1, unknown: 0 });
    expect(page.nodes[0]).toMatchObject({ nodeId: 'gw', replica: 'cp-0', state: 'connected' });
    expect(page.peers).toEqual([]);
  });
});
