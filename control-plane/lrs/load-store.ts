import type { ClusterStatsMessage } from '../../xds/lrs-service.js';
import { durationMs, OUTLIER_EJECTED_METRIC } from '../../xds/lrs-service.js';

// The load reports of the fleet, in a bounded window: per backend (cluster) request and error
// counts in 10 s buckets for 15 minutes (the dashboard's chart), per endpoint and per node the last
// minute (traffic shares, node rates). A node's figures are dropped when its LRS stream ends
// ("nodes that left are forgotten"); what it contributed to the backend buckets ages out with them.
//
// Every rate is over one stated window (`recentMs`, 60 s): a node's rate is what its reports of the
// window counted over the time those reports cover (their load_report_interval, so a node that just
// joined is not diluted), and a backend's rate is the sum of its reporting nodes' rates for it, so
// the backend's figure and its gateways' rows add up by construction (they once did not: buckets
// reaching 70 s back divided by at most 60 s). A report's counts are spread over the chart's buckets
// in proportion to the part of its interval each bucket covers.

export interface LoadCounts {
  issued: number;
  succeeded: number;
  failed: number;
}

interface Timed extends LoadCounts {
  readonly at: number;
  readonly intervalMs: number;
}

/** One report of a node: its totals, and per backend (cluster). */
interface NodeReport extends Timed {
  readonly clusters: ReadonlyMap<string, LoadCounts>;
  /** Issued requests per upstream locality zone (zoned backends; the zone → zone matrix). */
  readonly toZones?: ReadonlyMap<string, number>;
}

interface NodeLoadState {
  readonly streamId: number;
  readonly nodeId: string;
  readonly cluster: string;
  readonly userAgent: string;
  readonly since: number;
  reports: number;
  lastReportAt: number | undefined;
  recent: NodeReport[];
  /** The store's generation at this node's last report (what a peer replica asks "since"). */
  generation: number;
  /** Per backend, everything the stream reported since it opened (a counter: rollouts diff it). */
  readonly totals: Map<string, LoadCounts>;
}

interface EndpointState {
  recent: Timed[];
  inProgress: number;
  lastReportAt: number;
  /** Streams whose latest report said their outlier detection ejects this endpoint. */
  ejectedBy: Set<number>;
}

interface ClusterState {
  /** Bucket start ms → counts, oldest first (Map keeps insertion order). */
  readonly buckets: Map<number, LoadCounts>;
  readonly endpoints: Map<string, EndpointState>;
  /** Requests in progress, summed over the latest report of each stream. */
  readonly inProgressByStream: Map<number, number>;
  dropped: number;
}

export interface LoadStoreOptions {
  readonly windowMs?: number;
  readonly bucketMs?: number;
  /** Span of the per-node and per-endpoint rates and shares. */
  readonly recentMs?: number;
  readonly now?: () => number;
}

export interface NodeLoadView {
  readonly streamId: number;
  readonly nodeId: string;
  readonly cluster: string;
  readonly userAgent: string;
  readonly connectedAt: string;
  readonly reports: number;
  readonly lastReportAt: string | null;
  readonly rps: number;
  readonly errorRps: number;
  /** Per backend: requests and failures reported since the stream opened (counters, never reset). */
  readonly totals: Readonly<Record<string, { readonly issued: number; readonly failed: number }>>;
  /** Requests/s per endpoint zone (upstream_locality_stats.locality.zone); absent without zones. */
  readonly toZones?: Readonly<Record<string, number>>;
}

export interface EndpointLoadView extends LoadCounts {
  readonly address: string;
  readonly inProgress: number;
  /** Share of the backend's issued requests over the last minute, 0..1. */
  readonly share: number;
  readonly errorRate: number;
  readonly lastReportAt: string;
  /** Gateways (LRS streams) whose outlier detection ejects it now, of `reporters` reporting the backend. */
  readonly ejectedBy: number;
  readonly reporters: number;
}

export interface ClusterLoadView {
  readonly name: string;
  /** Over the window (windowSeconds in /load): counts, and rates = the sum of the reporting nodes' rates. */
  readonly lastMinute: LoadCounts & { readonly rps: number; readonly errorRps: number; readonly inProgress: number; readonly dropped: number };
  readonly endpoints: readonly EndpointLoadView[];
  /** Largest over smallest endpoint share (∞ shown as null when an endpoint got nothing); null for < 2 endpoints. */
  readonly imbalance: number | null;
  /** One point per bucket over the window: bucket start, requests/s, failed/s. */
  readonly series: readonly { readonly at: string; readonly rps: number; readonly errorRps: number }[];
}

const n = (v: string | number): number => Number(v) || 0;

export class LoadStore {
  private readonly windowMs: number;
  private readonly bucketMs: number;
  private readonly recentMs: number;
  private readonly now: () => number;
  private readonly nodes = new Map<number, NodeLoadState>();
  private readonly clusters = new Map<string, ClusterState>();
  private readonly listeners = new Set<() => void>();
  /** Grows with every report. */
  generation = 0;
  private prunedAt = 0;

  constructor(opts: LoadStoreOptions = {}) {
    this.windowMs = opts.windowMs ?? 15 * 60_000;
    this.bucketMs = opts.bucketMs ?? 10_000;
    this.recentMs = opts.recentMs ?? 60_000;
    this.now = opts.now ?? Date.now;
  }

  nodeJoined(streamId: number, nodeId: string, cluster: string, userAgent: string): void {
    this.nodes.set(streamId, { streamId, nodeId, cluster, userAgent, since: this.now(), reports: 0, lastReportAt: undefined, recent: [], generation: ++this.generation, totals: new Map() });
  }

  nodeLeft(streamId: number): void {
    if (this.nodes.delete(streamId)) this.generation++;
    for (const c of this.clusters.values()) {
      c.inProgressByStream.delete(streamId);
      for (const e of c.endpoints.values()) e.ejectedBy.delete(streamId);
    }
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * One LoadStatsRequest's cluster_stats from the stream `streamId`; `intervalMs` (the interval asked
   * for) counts as the time covered by a report that carries no clusters, so idle nodes decay to 0.
   */
  record(streamId: number, stats: readonly ClusterStatsMessage[], intervalMs: number): void {
    const node = this.nodes.get(streamId);
    if (!node) return;
    const at = this.now();
    const nodeTotal: LoadCounts = { issued: 0, succeeded: 0, failed: 0 };
    const byCluster = new Map<string, LoadCounts>();
    const toZones = new Map<string, number>();
    let nodeInterval = stats.length === 0 ? intervalMs : 0;
    for (const cs of stats) {
      const intervalMs = durationMs(cs.load_report_interval);
      nodeInterval = Math.max(nodeInterval, intervalMs);
      const c = this.cluster(cs.cluster_name);
      const counts = byCluster.get(cs.cluster_name) ?? { issued: 0, succeeded: 0, failed: 0 };
      byCluster.set(cs.cluster_name, counts);
      const before = { issued: counts.issued, failed: counts.failed };
      c.dropped += n(cs.total_dropped_requests);
      let inProgress = 0;
      // A gateway reports every endpoint it ejects, in each report: what it leaves out it does not eject.
      for (const e of c.endpoints.values()) e.ejectedBy.delete(streamId);
      for (const loc of cs.upstream_locality_stats) {
        const issued = n(loc.total_issued_requests);
        const ok = n(loc.total_successful_requests);
        const failed = n(loc.total_error_requests);
        counts.issued += issued;
        counts.succeeded += ok;
        counts.failed += failed;
        nodeTotal.issued += issued;
        nodeTotal.succeeded += ok;
        nodeTotal.failed += failed;
        inProgress += n(loc.total_requests_in_progress);
        const zone = loc.locality?.zone;
        if (zone) toZones.set(zone, (toZones.get(zone) ?? 0) + issued);
        for (const ep of loc.upstream_endpoint_stats) {
          const sa = ep.address?.socket_address;
          if (!sa) continue;
          const key = sa.address.includes(':') ? `[${sa.address}]:${sa.port_value}` : `${sa.address}:${sa.port_value}`;
          let e = c.endpoints.get(key);
          if (!e) c.endpoints.set(key, (e = { recent: [], inProgress: 0, lastReportAt: at, ejectedBy: new Set() }));
          if (ep.load_metric_stats?.some((m) => m.metric_name === OUTLIER_EJECTED_METRIC && m.total_metric_value > 0)) e.ejectedBy.add(streamId);
          e.recent.push({ at, intervalMs, issued: n(ep.total_issued_requests), succeeded: n(ep.total_successful_requests), failed: n(ep.total_error_requests) });
          e.inProgress = n(ep.total_requests_in_progress);
          e.lastReportAt = at;
        }
      }
      c.inProgressByStream.set(streamId, inProgress);
      const total = node.totals.get(cs.cluster_name) ?? { issued: 0, succeeded: 0, failed: 0 };
      node.totals.set(cs.cluster_name, total);
      // Dropped (no endpoint took them: none READY, every try refused) count as failed requests here.
      const dropped = n(cs.total_dropped_requests);
      total.issued += counts.issued - before.issued + dropped;
      total.failed += counts.failed - before.failed + dropped;
      this.spread(c, at, intervalMs, counts);
    }
    node.reports++;
    node.lastReportAt = at;
    node.recent.push({ at, intervalMs: nodeInterval, ...nodeTotal, clusters: byCluster, ...(toZones.size > 0 ? { toZones } : {}) });
    // Pruning walks every node and endpoint: once a second, not once per report (1,000 nodes report
    // every few seconds; per report it would be quadratic in the fleet).
    if (at - this.prunedAt >= 1000) this.prune(at);
    node.generation = ++this.generation;
    for (const l of this.listeners) l();
  }

  /** Adds one report's counts for `c` to the buckets its interval (ending at `at`) overlaps, pro rata. */
  private spread(c: ClusterState, at: number, intervalMs: number, counts: LoadCounts): void {
    const start = at - Math.max(1, intervalMs);
    for (let b = start - (start % this.bucketMs); b < at; b += this.bucketMs) {
      const part = (Math.min(at, b + this.bucketMs) - Math.max(start, b)) / (at - start);
      const into = c.buckets.get(b) ?? { issued: 0, succeeded: 0, failed: 0 };
      if (!c.buckets.has(b)) this.insertBucket(c, b, into);
      into.issued += counts.issued * part;
      into.succeeded += counts.succeeded * part;
      into.failed += counts.failed * part;
    }
  }

  /** Buckets stay in time order (prune walks them oldest first): a bucket older than the newest is put in place. */
  private insertBucket(c: ClusterState, b: number, counts: LoadCounts): void {
    let last: number | undefined;
    for (const k of c.buckets.keys()) last = k;
    if (last === undefined || b > last) {
      c.buckets.set(b, counts);
      return;
    }
    const entries = [...c.buckets, [b, counts] as [number, LoadCounts]].sort((x, y) => x[0] - y[0]);
    c.buckets.clear();
    for (const [k, v] of entries) c.buckets.set(k, v);
  }

  /** Requests/s and failed/s of a node id over the last minute (all its streams), if it reports. */
  nodeLoad(nodeId: string): { rps: number; errorRps: number } | undefined {
    let found = false;
    const sum: Timed[] = [];
    for (const s of this.nodes.values()) {
      if (s.nodeId !== nodeId) continue;
      found = true;
      sum.push(...this.recent(s.recent));
    }
    return found ? rates(sum) : undefined;
  }

  /** Per-node figures by node id, for many nodes at once (one pass over the reporting streams). */
  nodeLoads(): Map<string, { rps: number; errorRps: number }> {
    const byNode = new Map<string, Timed[]>();
    for (const s of this.nodes.values()) {
      const list = byNode.get(s.nodeId) ?? [];
      list.push(...this.recent(s.recent));
      byNode.set(s.nodeId, list);
    }
    return new Map([...byNode].map(([id, list]) => [id, rates(list)]));
  }

  /** The stream ids reporting now, and the views of those that reported since generation `since`. */
  nodesViewSince(since: number): { ids: number[]; changed: NodeLoadView[] } {
    const ids: number[] = [];
    const changed: NodeLoadView[] = [];
    for (const s of this.nodes.values()) {
      ids.push(s.streamId);
      if (s.generation > since) changed.push(this.nodeView(s));
    }
    return { ids, changed };
  }

  nodesView(): NodeLoadView[] {
    return [...this.nodes.values()].map((s) => this.nodeView(s));
  }

  private nodeView(s: NodeLoadState): NodeLoadView {
    return {
      streamId: s.streamId,
      nodeId: s.nodeId,
      cluster: s.cluster,
      userAgent: s.userAgent,
      connectedAt: new Date(s.since).toISOString(),
      reports: s.reports,
      lastReportAt: s.lastReportAt === undefined ? null : new Date(s.lastReportAt).toISOString(),
      ...rates(this.recent(s.recent)),
      totals: Object.fromEntries([...s.totals].map(([name, t]) => [name, { issued: t.issued, failed: t.failed }])),
      ...zoneRates(this.recent(s.recent)),
    };
  }

  /** The window every rate is taken over, seconds. */
  get windowSeconds(): number {
    return this.recentMs / 1000;
  }

  /** Width of the chart's buckets and span of the chart, seconds. */
  get series(): { bucketSeconds: number; seconds: number } {
    return { bucketSeconds: this.bucketMs / 1000, seconds: this.windowMs / 1000 };
  }

  clustersView(): ClusterLoadView[] {
    const now = this.now();
    this.prune(now);
    const perCluster = this.clusterRates();
    return [...this.clusters].map(([name, c]) => this.clusterView(name, c, now, perCluster.get(name))).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Per cluster: the counts of the window and the sum of each reporting node's rate for it. */
  private clusterRates(): Map<string, LoadCounts & { rps: number; errorRps: number }> {
    const out = new Map<string, LoadCounts & { rps: number; errorRps: number }>();
    for (const s of this.nodes.values()) {
      const list = this.recent(s.recent);
      const ms = list.reduce((acc, t) => acc + t.intervalMs, 0);
      if (ms === 0) continue;
      for (const r of list) {
        for (const [name, counts] of r.clusters) {
          let o = out.get(name);
          if (!o) out.set(name, (o = { issued: 0, succeeded: 0, failed: 0, rps: 0, errorRps: 0 }));
          o.issued += counts.issued;
          o.succeeded += counts.succeeded;
          o.failed += counts.failed;
          o.rps += (counts.issued * 1000) / ms;
          o.errorRps += (counts.failed * 1000) / ms;
        }
      }
    }
    return out;
  }

  private clusterView(name: string, c: ClusterState, now: number, last = { issued: 0, succeeded: 0, failed: 0, rps: 0, errorRps: 0 }): ClusterLoadView {
    const eps = [...c.endpoints].map(([address, e]) => ({ address, e, counts: sum(this.recent(e.recent)) }));
    const total = eps.reduce((acc, x) => acc + x.counts.issued, 0);
    const endpoints = eps
      .map(({ address, e, counts }) => ({
        address,
        ...counts,
        inProgress: e.inProgress,
        share: total > 0 ? counts.issued / total : 0,
        errorRate: counts.issued > 0 ? counts.failed / counts.issued : 0,
        lastReportAt: new Date(e.lastReportAt).toISOString(),
        ejectedBy: e.ejectedBy.size,
        reporters: c.inProgressByStream.size,
      }))
      .sort((a, b) => (a.address < b.address ? -1 : 1));
    const shares = endpoints.map((e) => e.share);
    const min = Math.min(...shares);
    const imbalance = shares.length < 2 || total === 0 ? null : min === 0 ? null : Math.max(...shares) / min;
    const sec = this.bucketMs / 1000;
    const series: { at: string; rps: number; errorRps: number }[] = [];
    // Complete buckets only: the one filling now would show as a dip at the end of every chart.
    const current = now - (now % this.bucketMs);
    for (let b = current - this.windowMs; b < current; b += this.bucketMs) {
      const counts = c.buckets.get(b);
      series.push({ at: new Date(b).toISOString(), rps: (counts?.issued ?? 0) / sec, errorRps: (counts?.failed ?? 0) / sec });
    }
    let inProgress = 0;
    for (const v of c.inProgressByStream.values()) inProgress += v;
    return {
      name,
      lastMinute: { ...last, inProgress, dropped: c.dropped },
      endpoints,
      imbalance,
      series,
    };
  }

  private cluster(name: string): ClusterState {
    let c = this.clusters.get(name);
    if (!c) this.clusters.set(name, (c = { buckets: new Map(), endpoints: new Map(), inProgressByStream: new Map(), dropped: 0 }));
    return c;
  }

  private recent<T extends Timed>(list: readonly T[]): T[] {
    const cut = this.now() - this.recentMs;
    return list.filter((t) => t.at > cut);
  }

  private prune(now: number): void {
    this.prunedAt = now;
    const recentCut = now - this.recentMs;
    const windowCut = now - this.windowMs;
    for (const s of this.nodes.values()) s.recent = s.recent.filter((t) => t.at > recentCut);
    for (const [name, c] of this.clusters) {
      for (const b of c.buckets.keys()) {
        if (b + this.bucketMs > windowCut) break;
        c.buckets.delete(b);
      }
      for (const [key, e] of c.endpoints) {
        e.recent = e.recent.filter((t) => t.at > recentCut);
        // An endpoint nobody reported for a whole window is gone (replaced in DNS long ago).
        if (e.lastReportAt <= windowCut) c.endpoints.delete(key);
      }
      if (c.buckets.size === 0 && c.endpoints.size === 0 && c.inProgressByStream.size === 0) this.clusters.delete(name);
    }
  }
}

function sum(list: readonly LoadCounts[]): LoadCounts {
  const out: LoadCounts = { issued: 0, succeeded: 0, failed: 0 };
  for (const t of list) {
    out.issued += t.issued;
    out.succeeded += t.succeeded;
    out.failed += t.failed;
  }
  return out;
}

/** Rates over the time the reports cover (their intervals), not the window: a node that just joined is not diluted. */
/** Requests/s per endpoint zone over the reports, when any carried zones. */
function zoneRates(list: readonly NodeReport[]): { toZones?: Record<string, number> } {
  const ms = list.reduce((acc, t) => acc + t.intervalMs, 0);
  const out: Record<string, number> = {};
  let any = false;
  for (const r of list) for (const [z, issued] of r.toZones ?? []) (out[z] = (out[z] ?? 0) + issued), (any = true);
  if (!any || ms === 0) return {};
  for (const z of Object.keys(out)) out[z] = (out[z]! * 1000) / ms;
  return { toZones: out };
}

function rates(list: readonly Timed[]): { rps: number; errorRps: number } {
  const s = sum(list);
  const ms = list.reduce((acc, t) => acc + t.intervalMs, 0);
  return ms > 0 ? { rps: (s.issued * 1000) / ms, errorRps: (s.failed * 1000) / ms } : { rps: 0, errorRps: 0 };
}
