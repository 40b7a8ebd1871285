// "Ejected by k of n gateways": a gateway's load report names every endpoint its outlier detection
// ejects (load_metric_stats), workers' ejections reach the primary's report, and the control plane
// counts the gateways whose latest report says so.
import { describe, expect, it } from 'vitest';
import { LoadRecorder } from '../data-plane/load/load-recorder.js';
import { LoadStore } from '../control-plane/lrs/load-store.js';
import { OUTLIER_EJECTED_METRIC, type ClusterStatsMessage } from '../xds/lrs-service.js';

const ejectedIn = (report: readonly ClusterStatsMessage[]): string[] =>
  report.flatMap((c) =>
    c.upstream_locality_stats.flatMap((l) =>
      l.upstream_endpoint_stats.filter((e) => e.load_metric_stats?.some((m) => m.metric_name === OUTLIER_EJECTED_METRIC)).map((e) => `${c.cluster_name} ${e.address?.socket_address?.address}:${e.address?.socket_address?.port_value}`),
    ),
  );

describe('ejections in load reports', () => {
  it('reports an ejected endpoint in every report until it returns, even without requests', () => {
    const r = new LoadRecorder();
    const load = r.forCluster('distributor');
    load.start('127.0.0.2:9095')(false);
    load.ejected!('127.0.0.3:9095', true);
    expect(ejectedIn(r.takeReport())).toEqual(['distributor 127.0.0.3:9095']);
    expect(ejectedIn(r.takeReport())).toEqual(['distributor 127.0.0.3:9095']);
    load.ejected!('127.0.0.3:9095', false);
    expect(r.takeReport()).toEqual([]);
  });

  it("carries a worker's ejections into the primary's report, and drops them when the worker stops saying so", () => {
    const worker = new LoadRecorder();
    worker.forCluster('distributor').ejected!('127.0.0.4:9095', true);
    const primary = new LoadRecorder();
    primary.absorb('worker 1', worker.takeReport());
    expect(ejectedIn(primary.takeReport())).toEqual(['distributor 127.0.0.4:9095']);
    primary.absorb('worker 1', []);
    expect(ejectedIn(primary.takeReport())).toEqual([]);
  });

  it('counts, per endpoint, the streams whose latest report ejects it', () => {
    const store = new LoadStore();
    const report = (ejected: boolean): ClusterStatsMessage[] => {
      const r = new LoadRecorder();
      const load = r.forCluster('distributor');
      load.start('127.0.0.2:9095')(false);
      if (ejected) load.ejected!('127.0.0.3:9095', true);
      else load.start('127.0.0.3:9095')(false);
      return r.takeReport();
    };
    for (const id of [1, 2, 3]) store.nodeJoined(id, `gw-${id}`, 'edge', 'test');
    store.record(1, report(true), 1000);
    store.record(2, report(true), 1000);
    store.record(3, report(false), 1000);
    const view = () => store.clustersView()[0]!.endpoints.find((e) => e.address === '127.0.0.3:9095')!;
    expect(view()).toMatchObject({ ejectedBy: 2, reporters: 3 });
    store.record(2, report(false), 1000);
    expect(view()).toMatchObject({ ejectedBy: 1, reporters: 3 });
    store.nodeLeft(1);
    expect(view()).toMatchObject({ ejectedBy: 0, reporters: 2 });
  });

  it('reports one upstream_locality_stats per zone once the upstream gives zones, also through a worker', () => {
    const worker = new LoadRecorder();
    const load = worker.forCluster('distributor');
    load.setZones!(new Map([['127.0.0.2:9095', 'zone-a'], ['127.0.0.3:9095', 'zone-b']]));
    for (const e of ['127.0.0.2:9095', '127.0.0.2:9095', '127.0.0.3:9095']) load.start(e)(false);
    const primary = new LoadRecorder();
    primary.absorb('worker 1', worker.takeReport());
    const locs = primary.takeReport()[0]!.upstream_locality_stats;
    expect(locs.map((l) => [l.locality?.zone, Number(l.total_issued_requests), l.upstream_endpoint_stats.length])).toEqual([['zone-a', 2, 1], ['zone-b', 1, 1]]);
  });
});
