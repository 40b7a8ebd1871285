import type { ClusterStatsMessage, UpstreamEndpointStatsMessage } from '../../xds/lrs-service.js';
import { msDuration, OUTLIER_EJECTED_METRIC } from '../../xds/lrs-service.js';

// What the gateway reports over LRS (load_report.proto): per backend (cluster) and per endpoint,
// requests issued, succeeded, failed and in progress since the last report. "Failed" is the
// gateway's definition: no answer from the backend, or a 5xx answer. Each attempt on an endpoint
// counts (a call retried on another endpoint because it never reached the first is two).
//
// The seam: an upstream calls `start(endpoint)` when it hands a request to an endpoint and the
// returned function with the outcome. It knows nothing about LRS; the recorder knows nothing about
// gRPC or HTTP clients.

/** Tells when a request is handed to `endpoint` ("host:port"); call the result once with its outcome. */
export interface EndpointLoad {
  start(endpoint: string): (failed: boolean) => void;
  /** Outlier detection ejected `endpoint` (true) or let it back (false): reported until it returns. */
  ejected?(endpoint: string, ejected: boolean): void;
  /** Endpoint → zone (its ClusterLoadAssignment locality): reports then carry one locality per zone. */
  setZones?(zones: ReadonlyMap<string, string>): void;
  /**
   * A request no endpoint took (none READY, or every try refused): reported as the cluster's
   * total_dropped_requests (load_report.proto: requests dropped before reaching an endpoint), so a
   * backend that resolves to nothing still shows its failures (a canary rollout judges by them).
   */
  dropped(): void;
}

interface Counts {
  issued: number;
  succeeded: number;
  failed: number;
  inProgress: number;
  /** Ejected by this process's outlier detection, or by another's (absorb), by source. */
  ejected?: Set<string>;
}

const SELF = '';

export class LoadRecorder {
  private readonly clusters = new Map<string, Map<string, Counts>>();
  private readonly droppedBy = new Map<string, number>();
  /** Per other process (absorb): its in-progress count per cluster and endpoint, last told. */
  private readonly remoteInProgress = new Map<string, Map<string, { c: Counts; n: number }>>();
  private lastReportAt: number;
  /** Per other process: the endpoints its last report said it ejected. */
  private readonly remoteEjected = new Map<string, Set<Counts>>();
  /** Per cluster: endpoint → zone, as the upstream last said. */
  private readonly zones = new Map<string, Map<string, string>>();

  constructor(private readonly now: () => number = Date.now) {
    this.lastReportAt = now();
  }

  /** The seam one backend's upstream reports to. */
  forCluster(cluster: string): EndpointLoad {
    return {
      start: (endpoint) => {
        const c = this.counts(cluster, endpoint);
        c.issued++;
        c.inProgress++;
        let done = false;
        return (failed) => {
          if (done) return;
          done = true;
          // The same object even if a report was taken meanwhile: counters are reset, not replaced.
          c.inProgress--;
          if (failed) c.failed++;
          else c.succeeded++;
        };
      },
      ejected: (endpoint, on) => this.setEjected(this.counts(cluster, endpoint), SELF, on),
      setZones: (zones) => {
        if (zones.size > 0) this.zones.set(cluster, new Map(zones));
        else this.zones.delete(cluster);
      },
      dropped: () => this.drop(cluster, 1),
    };
  }

  private setEjected(c: Counts, source: string, on: boolean): void {
    if (on) (c.ejected ??= new Set()).add(source);
    else if (c.ejected?.delete(source) && c.ejected.size === 0) c.ejected = undefined;
  }

  /**
   * The ClusterStats since the previous call, and resets the counters (in-progress counts stay).
   * Clusters with nothing to say are left out; endpoints idle for a whole interval are dropped.
   */
  takeReport(): ClusterStatsMessage[] {
    const now = this.now();
    const interval = msDuration(Math.max(0, now - this.lastReportAt));
    this.lastReportAt = now;
    const out: ClusterStatsMessage[] = [];
    for (const [cluster, endpoints] of this.clusters) {
      const zoneOf = this.zones.get(cluster);
      // One upstream_locality_stats per zone (load_report.proto), in zone order; '' when unzoned.
      const byZone = new Map<string, { total: Counts; stats: UpstreamEndpointStatsMessage[] }>();
      for (const [endpoint, c] of endpoints) {
        const zone = zoneOf?.get(endpoint) ?? '';
        let group = byZone.get(zone);
        if (!group) byZone.set(zone, (group = { total: { issued: 0, succeeded: 0, failed: 0, inProgress: 0 }, stats: [] }));
        const { total, stats } = group;
        // An ejected endpoint gets no requests, yet stays in the report: the metric says it is ejected.
        if (c.issued === 0 && c.succeeded === 0 && c.failed === 0 && c.inProgress === 0 && c.ejected === undefined) {
          endpoints.delete(endpoint);
          continue;
        }
        total.issued += c.issued;
        total.succeeded += c.succeeded;
        total.failed += c.failed;
        total.inProgress += c.inProgress;
        stats.push({
          address: { socket_address: socketAddress(endpoint) },
          total_issued_requests: c.issued,
          total_successful_requests: c.succeeded,
          total_error_requests: c.failed,
          total_requests_in_progress: c.inProgress,
          ...(c.ejected ? { load_metric_stats: [{ metric_name: OUTLIER_EJECTED_METRIC, num_requests_finished_with_metric: 1, total_metric_value: 1 }] } : {}),
        });
        c.issued = c.succeeded = c.failed = 0;
      }
      const groups = [...byZone].filter(([, g]) => g.stats.length > 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      const dropped = this.droppedBy.get(cluster) ?? 0;
      this.droppedBy.delete(cluster);
      if (groups.length === 0 && dropped === 0) {
        this.clusters.delete(cluster);
        continue;
      }
      out.push({
        cluster_name: cluster,
        cluster_service_name: '',
        upstream_locality_stats: groups.map(([zone, { total, stats }]) => ({
          locality: { region: '', zone, sub_zone: '' },
          total_issued_requests: total.issued,
          total_successful_requests: total.succeeded,
          total_error_requests: total.failed,
          total_requests_in_progress: total.inProgress,
          upstream_endpoint_stats: stats,
        })),
        total_dropped_requests: dropped,
        load_report_interval: interval,
      });
    }
    return out;
  }

  /**
   * Another process's report (a worker's takeReport(), -server.workers): its issued, succeeded and
   * failed add to this recorder's; its in-progress counts replace what `source` said before (an
   * endpoint it leaves out has none in progress). Its interval is ours: we report what we got since.
   */
  absorb(source: string, stats: readonly ClusterStatsMessage[]): void {
    const before = this.remoteInProgress.get(source) ?? new Map<string, { c: Counts; n: number }>();
    const now = new Map<string, { c: Counts; n: number }>();
    const ejectedNow = new Set<Counts>();
    for (const cs of stats) {
      const dropped = Number(cs.total_dropped_requests);
      if (dropped > 0) this.drop(cs.cluster_name, dropped);
      for (const loc of cs.upstream_locality_stats) {
        for (const e of loc.upstream_endpoint_stats) {
          const sa = e.address?.socket_address;
          if (!sa) continue;
          const endpoint = sa.address.includes(':') ? `[${sa.address}]:${sa.port_value}` : `${sa.address}:${sa.port_value}`;
          const c = this.counts(cs.cluster_name, endpoint);
          // A worker's zones (its localities) are the primary's too: its report keeps them.
          if (loc.locality?.zone) {
            let zones = this.zones.get(cs.cluster_name);
            if (!zones) this.zones.set(cs.cluster_name, (zones = new Map()));
            zones.set(endpoint, loc.locality.zone);
          }
          c.issued += Number(e.total_issued_requests);
          c.succeeded += Number(e.total_successful_requests);
          c.failed += Number(e.total_error_requests);
          if (e.load_metric_stats?.some((m) => m.metric_name === OUTLIER_EJECTED_METRIC && m.total_metric_value > 0)) {
            this.setEjected(c, source, true);
            ejectedNow.add(c);
          }
          const key = `${cs.cluster_name}\u0000${endpoint}`;
          const n = Number(e.total_requests_in_progress);
          c.inProgress += n - (before.get(key)?.n ?? 0);
          before.delete(key);
          if (n > 0) now.set(key, { c, n });
        }
      }
    }
    for (const { c, n } of before.values()) c.inProgress -= n;
    for (const c of this.remoteEjected.get(source) ?? []) if (!ejectedNow.has(c)) this.setEjected(c, source, false);
    if (ejectedNow.size > 0) this.remoteEjected.set(source, ejectedNow);
    else this.remoteEjected.delete(source);
    if (now.size > 0) this.remoteInProgress.set(source, now);
    else this.remoteInProgress.delete(source);
  }

  /** `source` is gone (a worker died): what it had in progress is no longer. */
  forget(source: string): void {
    this.absorb(source, []);
  }

  /** Counts `n` requests of `cluster` that no endpoint took. */
  private drop(cluster: string, n: number): void {
    if (!this.clusters.has(cluster)) this.clusters.set(cluster, new Map());
    this.droppedBy.set(cluster, (this.droppedBy.get(cluster) ?? 0) + n);
  }

  private counts(cluster: string, endpoint: string): Counts {
    let eps = this.clusters.get(cluster);
    if (!eps) this.clusters.set(cluster, (eps = new Map()));
    let c = eps.get(endpoint);
    if (!c) eps.set(endpoint, (c = { issued: 0, succeeded: 0, failed: 0, inProgress: 0 }));
    return c;
  }
}

/** "host:port" or "[v6]:port" → SocketAddress. */
function socketAddress(endpoint: string): { address: string; port_value: number } {
  const i = endpoint.lastIndexOf(':');
  const host = endpoint.slice(0, i);
  return { address: host.startsWith('[') ? host.slice(1, -1) : host, port_value: Number(endpoint.slice(i + 1)) };
}
