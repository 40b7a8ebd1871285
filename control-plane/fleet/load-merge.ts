import type { ClusterLoadView, EndpointLoadView } from '../lrs/load-store.js';

// Per-backend load views of several replicas as one. Load reports are per gateway and a gateway
// reports to one replica at a time, so sums are exact: counts and rates add up, endpoint shares and
// error rates are recomputed from the summed counts, chart points add up per bucket (buckets start
// at the same wall-clock multiples on every replica).

function mergeEndpoints(lists: readonly (readonly EndpointLoadView[])[]): EndpointLoadView[] {
  const by = new Map<string, { issued: number; succeeded: number; failed: number; inProgress: number; lastReportAt: string; ejectedBy: number; reporters: number }>();
  // Gateways reporting the backend, per replica (the same for each of its endpoints): an endpoint is
  // "ejected by k of n" over the whole fleet, n counting the gateways of replicas that never saw it too.
  const reporters = lists.reduce((n, list) => n + (list[0]?.reporters ?? 0), 0);
  for (const list of lists) {
    for (const e of list) {
      const o = by.get(e.address);
      if (!o) {
        by.set(e.address, { issued: e.issued, succeeded: e.succeeded, failed: e.failed, inProgress: e.inProgress, lastReportAt: e.lastReportAt, ejectedBy: e.ejectedBy, reporters });
        continue;
      }
      o.issued += e.issued;
      o.succeeded += e.succeeded;
      o.failed += e.failed;
      o.inProgress += e.inProgress;
      o.ejectedBy += e.ejectedBy;
      if (e.lastReportAt > o.lastReportAt) o.lastReportAt = e.lastReportAt;
    }
  }
  let total = 0;
  for (const o of by.values()) total += o.issued;
  return [...by]
    .map(([address, o]) => ({
      address,
      ...o,
      share: total > 0 ? o.issued / total : 0,
      errorRate: o.issued > 0 ? o.failed / o.issued : 0,
    }))
    .sort((a, b) => (a.address < b.address ? -1 : 1));
}

function imbalanceOf(endpoints: readonly EndpointLoadView[]): number | null {
  const shares = endpoints.map((e) => e.share);
  const total = endpoints.reduce((a, e) => a + e.issued, 0);
  const min = Math.min(...shares);
  return shares.length < 2 || total === 0 || min === 0 ? null : Math.max(...shares) / min;
}

function mergeOne(views: readonly ClusterLoadView[]): ClusterLoadView {
  const first = views[0]!;
  if (views.length === 1) return first;
  const lm = { issued: 0, succeeded: 0, failed: 0, rps: 0, errorRps: 0, inProgress: 0, dropped: 0 };
  const series = new Map<string, { rps: number; errorRps: number }>();
  for (const v of views) {
    for (const k of Object.keys(lm) as (keyof typeof lm)[]) lm[k] += v.lastMinute[k];
    for (const p of v.series) {
      const o = series.get(p.at) ?? { rps: 0, errorRps: 0 };
      o.rps += p.rps;
      o.errorRps += p.errorRps;
      series.set(p.at, o);
    }
  }
  const endpoints = mergeEndpoints(views.map((v) => v.endpoints));
  return {
    name: first.name,
    lastMinute: lm,
    endpoints,
    imbalance: imbalanceOf(endpoints),
    series: [...series].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([at, p]) => ({ at, ...p })),
  };
}

/** One view per backend name over all replicas' views, sorted by name. */
export function mergeClusterViews(perReplica: readonly (readonly ClusterLoadView[])[]): ClusterLoadView[] {
  if (perReplica.length === 1) return [...perReplica[0]!];
  const by = new Map<string, ClusterLoadView[]>();
  for (const list of perReplica) for (const c of list) by.set(c.name, [...(by.get(c.name) ?? []), c]);
  return [...by.values()].map(mergeOne).sort((a, b) => (a.name < b.name ? -1 : 1));
}
