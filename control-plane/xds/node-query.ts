import type { FleetNode, NodeLiveness, NodeView, TypeStatus } from './node-view.js';
import { shortType, TYPE_ORDER } from '../../xds/resource.js';

// Summary counts, filters and pages over the fleet's streams (this replica's and its peers', as
// FleetNode views), so /control-plane/api/v1/nodes and the fleet dashboard never build (or ship) a
// view of the whole fleet: nodes are filtered and sorted as they are, and only the requested page is
// turned into views. Modelled on `istioctl
// proxy-status`: per resource type one of SYNCED / NOT ACKED (STALE there) / NACKED / NOT SENT.

/** Sync state of one resource type on one stream. */
export type TypeSyncState = 'synced' | 'not-acked' | 'nacked' | 'not-sent';

/** Node filter by state: the stream's, or "any type in this sync state". */
export const NODE_STATES = ['connected', 'disconnected', 'unknown', 'synced', 'not-acked', 'nacked'] as const;
export type NodeStateFilter = (typeof NODE_STATES)[number];

export const NODE_SORTS = ['node', 'cluster', 'connected', 'requests', 'errors'] as const;
export type NodeSort = (typeof NODE_SORTS)[number];

export interface NodeQuery {
  readonly state?: NodeStateFilter;
  /** Exact fleet cluster (Node.cluster). */
  readonly cluster?: string;
  /** Node id prefix. */
  readonly prefix?: string;
  readonly sort?: NodeSort;
  readonly descending?: boolean;
  readonly offset?: number;
  readonly limit?: number;
}

/** Per-node load from the load reports (requests/s and failed requests/s over the last minute). */
export interface NodeLoad {
  readonly rps: number;
  readonly errorRps: number;
}

export interface NodeSummary {
  readonly connected: number;
  readonly disconnected: number;
  /** Held by a peer replica that does not answer: state not known (not counted in any other figure). */
  readonly unknown: number;
  /** Connected nodes whose every type sent is ACKed at the version sent. */
  readonly synced: number;
  /** Keyed by short type name (Cluster, ClusterLoadAssignment, Listener, RouteConfiguration). */
  readonly types: Readonly<Record<string, Readonly<Record<TypeSyncState, number>>>>;
}

export interface NodePage {
  readonly summary: NodeSummary;
  /** Nodes that pass the filter (before paging). */
  readonly total: number;
  readonly offset: number;
  readonly limit: number;
  readonly nodes: readonly PagedNode[];
}

export type PagedNode = Omit<NodeView, 'state'> & {
  readonly state: NodeLiveness;
  /** The control-plane replica holding the stream. */
  readonly replica: string;
  readonly sync: Readonly<Record<string, TypeSyncState | 'unknown'>>;
  readonly load: NodeLoad | null;
};

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

/** xds_protocol.rst "ACK/NACK and resource type instance version": a NACK answers the nonce it names. */
export function typeSyncState(t: TypeStatus | undefined): TypeSyncState {
  if (!t?.lastSent) return 'not-sent';
  if (t.lastNack !== null && t.lastNack.nonce === t.lastSent.nonce) return 'nacked';
  return t.ackedVersion === t.lastSent.version ? 'synced' : 'not-acked';
}

function syncOf(r: FleetNode): Record<string, TypeSyncState | 'unknown'> {
  const out: Record<string, TypeSyncState | 'unknown'> = {};
  for (const t of TYPE_ORDER) out[shortType(t)] = r.liveness === 'unknown' ? 'unknown' : typeSyncState(r.types.get(t));
  return out;
}

function anyType(r: FleetNode, state: TypeSyncState): boolean {
  for (const t of r.types.values()) if (typeSyncState(t) === state) return true;
  return false;
}

function matches(r: FleetNode, q: NodeQuery): boolean {
  if (q.cluster !== undefined && r.cluster !== q.cluster) return false;
  if (q.prefix !== undefined && !r.nodeId.startsWith(q.prefix)) return false;
  const connected = r.liveness === 'connected';
  switch (q.state) {
    case undefined:
      return true;
    case 'connected':
    case 'disconnected':
    case 'unknown':
      return r.liveness === q.state;
    case 'synced':
      return connected && r.types.size > 0 && !anyType(r, 'not-acked') && !anyType(r, 'nacked');
    default:
      return connected && anyType(r, q.state);
  }
}

export function summarize(records: Iterable<FleetNode>): NodeSummary {
  const types: Record<string, Record<TypeSyncState, number>> = {};
  for (const t of TYPE_ORDER) types[shortType(t)] = { synced: 0, 'not-acked': 0, nacked: 0, 'not-sent': 0 };
  let connected = 0;
  let disconnected = 0;
  let unknown = 0;
  let synced = 0;
  for (const r of records) {
    if (r.liveness !== 'connected') {
      if (r.liveness === 'unknown') unknown++;
      else disconnected++;
      continue;
    }
    connected++;
    let allSynced = r.types.size > 0;
    for (const t of TYPE_ORDER) {
      const s = typeSyncState(r.types.get(t));
      types[shortType(t)]![s]++;
      if (s === 'not-acked' || s === 'nacked') allSynced = false;
    }
    if (allSynced) synced++;
  }
  return { connected, disconnected, unknown, synced, types };
}

/** Filters, sorts and pages `records`; `load` joins each node's load report figures by node id. */
export function queryNodes(records: readonly FleetNode[], q: NodeQuery, load: (nodeId: string) => NodeLoad | undefined): NodePage {
  const hits = records.filter((r) => matches(r, q));
  const sort = q.sort ?? 'node';
  const loadOf = (r: FleetNode): NodeLoad | undefined => (r.liveness === 'unknown' ? undefined : load(r.nodeId));
  const key = (r: FleetNode): string | number => {
    switch (sort) {
      case 'node':
        return r.nodeId;
      case 'cluster':
        return r.cluster;
      case 'connected':
        return r.connectedAt;
      case 'requests':
        return loadOf(r)?.rps ?? -1;
      case 'errors':
        return loadOf(r)?.errorRps ?? -1;
    }
  };
  const keys = new Map(hits.map((r) => [r, key(r)]));
  const dir = q.descending ? -1 : 1;
  hits.sort((a, b) => {
    const ka = keys.get(a)!;
    const kb = keys.get(b)!;
    // Ties (same node id on two streams, equal rates) by replica and stream id, so pages do not overlap.
    if (ka !== kb) return (ka < kb ? -1 : 1) * dir;
    if (a.replica !== b.replica) return (a.replica < b.replica ? -1 : 1) * dir;
    return (a.streamId - b.streamId) * dir;
  });
  const offset = Math.max(0, Math.floor(q.offset ?? 0));
  const limit = Math.min(MAX_PAGE, Math.max(1, Math.floor(q.limit ?? DEFAULT_PAGE)));
  return {
    summary: summarize(records),
    total: hits.length,
    offset,
    limit,
    nodes: hits.slice(offset, offset + limit).map((r) => ({ ...r.view(), state: r.liveness, replica: r.replica, sync: syncOf(r), load: loadOf(r) ?? null })),
  };
}
