import { describe, expect, it } from 'vitest';
import { LoadStore } from '../control-plane/lrs/load-store.js';
import type { ClusterStatsMessage } from '../xds/lrs-service.js';

// The control plane's window of load reports, on a clock the test moves: bounded in time, nodes that
// leave are forgotten, rates over the time the reports cover.

function report(cluster: string, perEndpoint: Record<string, [issued: number, failed: number]>, intervalMs = 1000): ClusterStatsMessage {
  const eps = Object.entries(perEndpoint).map(([a, [issued, failed]]) => {
    const [address, port] = a.split(':');
    return { address: { socket_address: { address: address!, port_value: Number(port) } }, total_issued_requests: issued, total_successful_requests: issued - failed, total_error_requests: failed, total_requests_in_progress: 0 };
  });
  const sum = (k: 'total_issued_requests' | 'total_error_requests'): number => eps.reduce((a, e) => a + e[k], 0);
  return {
    cluster_name: cluster, cluster_service_name: '', total_dropped_requests: 0, load_report_interval: { seconds: intervalMs / 1000, nanos: 0 },
    upstream_locality_stats: [{ locality: null, total_issued_requests: sum('total_issued_requests'), total_successful_requests: sum('total_issued_requests') - sum('total_error_requests'), total_error_requests: sum('total_error_requests'), total_requests_in_progress: 0, upstream_endpoint_stats: eps }],
  };
}

describe('LoadStore', () => {
  it('rates per node over the reported intervals, shares and imbalance per endpoint', () => {
    let now = 1_000_000;
    const store = new LoadStore({ now: () => now });
    store.nodeJoined(1, 'a', 'edge', 'x');
    for (let i = 0; i < 5; i++) {
      now += 1000;
      store.record(1, [report('d', { '10.0.0.1:1': [30, 3], '10.0.0.2:1': [10, 0] })], 1000);
    }
    expect(store.nodeLoad('a')).toEqual({ rps: 40, errorRps: 3 });
    const d = store.clustersView()[0]!;
    expect(d.endpoints.map((e) => [e.address, e.share, e.errorRate])).toEqual([['10.0.0.1:1', 0.75, 0.1], ['10.0.0.2:1', 0.25, 0]]);
    expect(d.imbalance).toBe(3);
    expect(d.lastMinute.issued).toBe(200);
    // Idle reports (no clusters) cover time too: the node's rate decays.
    for (let i = 0; i < 5; i++) {
      now += 1000;
      store.record(1, [], 1000);
    }
    expect(store.nodeLoad('a')!.rps).toBe(20);
  });

  it('forgets a node when its stream ends, and everything older than the window', () => {
    let now = 5_000_000;
    const store = new LoadStore({ now: () => now });
    store.nodeJoined(7, 'gone', 'edge', 'x');
    store.record(7, [report('d', { '10.0.0.9:1': [5, 0] })], 1000);
    store.nodeLeft(7);
    expect(store.nodeLoad('gone')).toBeUndefined();
    expect(store.nodesView()).toEqual([]);
    // The backend's figures are its reporting nodes' (they add up to the rows); its chart keeps the past.
    expect(store.clustersView()[0]!.lastMinute.issued).toBe(0);
    now += 10_000;
    expect(store.clustersView()[0]!.series.reduce((a, p) => a + p.rps * 10, 0)).toBeCloseTo(5);
    now += 51_000;
    expect(store.clustersView()[0]!.endpoints[0]!.issued).toBe(0); // ...the last minute moves on
    now += 15 * 60_000;
    expect(store.clustersView()).toEqual([]); // and after 15 minutes nothing is left
  });

  it('keeps 15 minutes of 10 s buckets, complete ones only', () => {
    let now = 10_000_000;
    const store = new LoadStore({ now: () => now });
    store.nodeJoined(1, 'a', 'edge', 'x');
    for (let i = 0; i < 20 * 6; i++) {
      now += 10_000;
      store.record(1, [report('d', { '10.0.0.1:1': [100, 0] })], 10_000);
    }
    const series = store.clustersView()[0]!.series;
    expect(series).toHaveLength(90);
    expect(series.every((p) => p.rps === 10)).toBe(true);
  });

  it("states one window: a backend's rate is the sum of its nodes' rates, each over the time its reports cover", () => {
    // The arithmetic: two gateways at ~1,000 req/s each reporting every 5 s. The old figure
    // summed 10 s buckets reaching 70 s back and divided by 60 s (2,510 req/s shown for 1,947).
    let now = 20_000_003;
    const store = new LoadStore({ now: () => now });
    store.nodeJoined(1, 'gw-a', 'edge', 'x');
    store.nodeJoined(2, 'gw-b', 'edge', 'x');
    for (let i = 0; i < 60; i++) {
      now += 5000;
      store.record(1, [report('distributor', { '10.0.0.1:1': [2500, 0], '10.0.0.2:1': [2405, 5] }, 5000)], 5000);
      store.record(2, [report('distributor', { '10.0.0.1:1': [2415, 0], '10.0.0.2:1': [2415, 0] }, 5000)], 5000);
    }
    const a = store.nodeLoad('gw-a')!.rps;
    const b = store.nodeLoad('gw-b')!.rps;
    expect(a).toBeCloseTo(981);
    expect(b).toBeCloseTo(966);
    const d = store.clustersView()[0]!;
    expect(d.lastMinute.rps).toBeCloseTo(a + b);
    expect(d.lastMinute.errorRps).toBeCloseTo(1);
    expect(store.windowSeconds).toBe(60);
    // The chart's buckets carry the same rate (reports spread over the buckets their interval covers).
    for (const p of d.series.slice(-20)) expect(p.rps).toBeCloseTo(a + b);
  });

  it('a node that just joined is not diluted by the window, and its first report is not counted from a bucket start', () => {
    let now = 30_000_000 + 7_000; // mid-bucket
    const store = new LoadStore({ now: () => now });
    store.nodeJoined(1, 'new', 'edge', 'x');
    now += 2000;
    store.record(1, [report('d', { '10.0.0.1:1': [200, 0] }, 2000)], 2000);
    expect(store.nodeLoad('new')!.rps).toBe(100);
    expect(store.clustersView()[0]!.lastMinute.rps).toBe(100);
  });
});
