import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { formatHostPort, type DnsTarget } from '../../core/model.js';
import type { EndpointSource } from '../dns/dns-watcher.js';
import type { FleetHistory, HistoryEntry } from '../dashboard/fleet-history.js';
import { HISTORY_LENGTH } from '../dashboard/fleet-history.js';
import type { ClusterLoadView, LoadStore, NodeLoadView } from '../lrs/load-store.js';
import type { NodeRegistry } from '../xds/node-registry.js';
import { queryNodes, type NodeLoad, type NodePage, type NodeQuery } from '../xds/node-query.js';
import type { FleetNode } from '../xds/node-view.js';
import type { SnapshotStatus } from '../xds/snapshot-cache.js';
import { mergeClusterViews } from './load-merge.js';
import type { ZoneGatewayCounts } from '../../xds/zone-metadata.js';
import { zoneMatrix, type ZoneMatrix } from './zone-matrix.js';
import { PeerClient, type PeerStatus, type PeerTls } from './peer-client.js';
import type { PeerAsk, PeerState } from './peer-state.js';

// The fleet as one: this replica's streams, load reports and snapshot history, merged with what its
// peer replicas report (found through a dns:/// name, as distributors are, and polled over their HTTP
// API). Every fleet-wide read (the nodes API, CSDS, /load, the dashboard) reads from here, so a page
// or a CSDS call on any replica shows the whole fleet. Read-only: nothing here acts on a stream.
// A canary rollout decision reads the same merged figures: clusters() per backend, loadNodes() per
// gateway, each row naming its replica.

export interface FleetViewOptions {
  readonly nodes: NodeRegistry;
  readonly load: LoadStore;
  readonly history: FleetHistory;
  readonly logger: Logger;
  /** The peers' dns:/// name (host:port of their HTTP API) and the watcher that resolves it. Unset: no peers. */
  readonly peers?: { readonly target: DnsTarget; readonly endpoints: EndpointSource; readonly tls?: PeerTls };
  /** How often each peer is asked (default 1 s). */
  readonly pollMs?: number;
  /** How long a peer that left the DNS name is still named (default 5 minutes). */
  readonly goneRetainMs?: number;
}

export type FleetLoadNode = NodeLoadView & { readonly replica: string };

export class FleetView {
  /** This process; a peer that answers with it is ourselves (our own address in the peers' name). */
  readonly instance = randomUUID();
  private readonly peers = new Map<string, PeerClient>();
  private readonly goneAt = new Map<string, number>();
  private readonly listeners = new Set<() => void>();
  private cancelWatch: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  /** Grow with every change of the merged nodes, load and history (the dashboard's event stream). */
  nodesGeneration = 0;
  loadGeneration = 0;
  historyGeneration = 0;

  constructor(private readonly opts: FleetViewOptions) {
    opts.nodes.onChange(() => this.bump({ nodes: true, load: false, history: false }));
    opts.load.onChange(() => this.bump({ nodes: false, load: true, history: false }));
  }

  /** Follows the peers' name and polls them; a no-op without peers. */
  start(): void {
    const p = this.opts.peers;
    if (!p) return;
    this.cancelWatch = p.endpoints.watch(p.target, (eps) => this.setPeers(eps.map((e) => formatHostPort(e.address, e.port))));
    this.timer = setInterval(() => void this.pollAll(), this.opts.pollMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    this.cancelWatch?.();
    clearInterval(this.timer);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The name nodes of this replica carry. */
  get replica(): string {
    return this.opts.nodes.replica;
  }

  peerStatus(): PeerStatus[] {
    return [...this.peers.values()].filter((p) => !p.isSelf).map((p) => p.status());
  }

  /**
   * Every stream of the fleet. A record a peer that does not answer held (unknown) is left out once
   * the same node id is connected anywhere: its gateway has reconnected to a replica that answers.
   */
  nodes(): FleetNode[] {
    const out: FleetNode[] = this.opts.nodes.records();
    const unknown: FleetNode[] = [];
    for (const p of this.livePeers()) for (const n of p.nodes()) (n.liveness === 'unknown' ? unknown : out).push(n);
    if (unknown.length > 0) {
      const connected = new Set(out.filter((n) => n.liveness === 'connected').map((n) => n.nodeId));
      for (const n of unknown) if (!connected.has(n.nodeId)) out.push(n);
    }
    return out;
  }

  /**
   * Connected xDS clients per Node.locality.zone over every replica (Envoy's local cluster for
   * zone-aware routing), each node id once: a pure function of the fleet, so replicas that see the
   * same fleet publish the same counts (control-plane.ts setGatewayZones).
   */
  gatewayZones(): ZoneGatewayCounts {
    const zoneOf = new Map<string, string>();
    for (const n of this.nodes()) if (n.liveness === 'connected') zoneOf.set(n.nodeId, n.view().zone ?? '');
    const perZone = new Map<string, number>();
    for (const z of zoneOf.values()) if (z !== '') perZone.set(z, (perZone.get(z) ?? 0) + 1);
    return new Map([...perZone].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** Requests/s from gateways in each zone to endpoints in each zone, over every replica's load reports. */
  zoneMatrix(): ZoneMatrix {
    const zoneOf = new Map<string, string>();
    for (const n of this.nodes()) zoneOf.set(n.nodeId, n.view().zone ?? '');
    return zoneMatrix(this.loadNodes(), zoneOf);
  }

  /** Summary and one page over the merged fleet, with the peers named. */
  query(q: NodeQuery): NodePage & { snapshot: SnapshotStatus | null; replica: string; peers: PeerStatus[] } {
    const loads = this.nodeLoads();
    return { ...queryNodes(this.nodes(), q, (id) => loads.get(id)), snapshot: this.opts.nodes.snapshot(), replica: this.replica, peers: this.peerStatus() };
  }

  /** Per backend, over all replicas that answer (a down peer's share is missing: see peerStatus). */
  clusters(): ClusterLoadView[] {
    const lists: (readonly ClusterLoadView[])[] = [this.opts.load.clustersView()];
    for (const p of this.livePeers()) if (p.up && p.load) lists.push(p.load.clusters);
    return mergeClusterViews(lists);
  }

  /** Per reporting gateway stream, each naming its replica. */
  loadNodes(): FleetLoadNode[] {
    const out: FleetLoadNode[] = this.opts.load.nodesView().map((n) => ({ ...n, replica: this.replica }));
    for (const p of this.livePeers()) if (p.up) for (const n of p.loadNodes()) out.push({ ...n, replica: p.address });
    return out;
  }

  /** Requests/s and failed/s per node id over the window (all its streams, every replica). */
  nodeLoads(): Map<string, NodeLoad> {
    const out = this.opts.load.nodeLoads();
    for (const p of this.livePeers()) {
      if (!p.up) continue;
      for (const n of p.loadNodes()) {
        const o = out.get(n.nodeId);
        out.set(n.nodeId, o ? { rps: o.rps + n.rps, errorRps: o.errorRps + n.errorRps } : { rps: n.rps, errorRps: n.errorRps });
      }
    }
    return out;
  }

  /** Snapshot history of every replica, one entry per set of versions (they are equal across replicas), newest first. */
  history(): HistoryEntry[] {
    const by = new Map<string, HistoryEntry>();
    const add = (list: readonly HistoryEntry[]): void => {
      for (const h of list) {
        const key = JSON.stringify(h.versions);
        const o = by.get(key);
        if (!o || h.at < o.at) by.set(key, h);
      }
    };
    add(this.opts.history.history());
    for (const p of this.livePeers()) if (p.history) add(p.history.entries);
    return [...by.values()].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0)).slice(0, HISTORY_LENGTH);
  }

  /** What this replica serves its peers: only what changed since the generations they hold. */
  peerState(ask: PeerAsk): PeerState {
    const { nodes, load, history } = this.opts;
    const same = ask.instance === this.instance;
    const nodesSince = same && ask.nodes <= nodes.generation ? ask.nodes : -1;
    const records = nodes.records();
    return {
      instance: this.instance,
      nodes:
        nodesSince === nodes.generation
          ? null
          : { generation: nodes.generation, full: nodesSince < 0, ids: records.map((r) => r.streamId), changed: records.filter((r) => r.generation > nodesSince).map((r) => r.view()) },
      load: same && ask.load === load.generation ? null : this.loadSince(same && ask.load <= load.generation ? ask.load : -1),
      history: same && ask.history === history.generation ? null : { generation: history.generation, entries: history.history() },
    };
  }

  private loadSince(since: number): PeerState['load'] {
    const { ids, changed } = this.opts.load.nodesViewSince(since);
    return { generation: this.opts.load.generation, full: since < 0, clusters: this.opts.load.clustersView(), ids, nodes: changed };
  }

  private livePeers(): PeerClient[] {
    return [...this.peers.values()].filter((p) => !p.isSelf);
  }

  private setPeers(addresses: readonly string[]): void {
    const now = Date.now();
    const want = new Set(addresses);
    for (const a of addresses) {
      this.goneAt.delete(a);
      const known = this.peers.get(a);
      if (known) {
        known.gone = false;
        continue;
      }
      this.peers.set(a, new PeerClient({ address: a, selfInstance: this.instance, timeoutMs: 2 * (this.opts.pollMs ?? 1000), logger: this.opts.logger, changed: (w) => this.bump(w), ...(this.opts.peers?.tls ? { tls: this.opts.peers.tls } : {}) }));
    }
    for (const [a, p] of this.peers) {
      if (want.has(a) || p.gone) continue;
      p.gone = true;
      p.up = false;
      this.goneAt.set(a, now);
      this.bump({ nodes: true, load: true, history: false });
    }
    void this.pollAll();
  }

  private async pollAll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const retain = this.opts.goneRetainMs ?? 5 * 60_000;
      for (const [a, at] of this.goneAt) {
        if (Date.now() - at < retain) continue;
        this.goneAt.delete(a);
        this.peers.delete(a);
        this.bump({ nodes: true, load: true, history: false });
      }
      await Promise.all([...this.peers.values()].filter((p) => !p.isSelf && !p.gone).map((p) => p.poll()));
      const self = [...this.peers.values()].find((p) => p.isSelf);
      if (self && this.opts.nodes.replica !== self.address) {
        this.opts.nodes.replica = self.address;
        this.bump({ nodes: true, load: true, history: false });
      }
    } finally {
      this.polling = false;
    }
  }

  private bump(what: { nodes: boolean; load: boolean; history: boolean }): void {
    if (what.nodes) this.nodesGeneration++;
    if (what.load) this.loadGeneration++;
    if (what.history) this.historyGeneration++;
    for (const l of this.listeners) l();
  }
}
