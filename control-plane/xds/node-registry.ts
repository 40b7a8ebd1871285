import { hostname } from 'node:os';
import type { NodeMessage } from '../../xds/ads-service.js';
import { structToJson, type JsonValue } from '../../xds/struct.js';
import type { SnapshotStatus } from './snapshot-cache.js';
import type { AdsProtocol } from './xds-metrics.js';
import type { FleetNode, NodeLiveness, NodeView, TypeStatus } from './node-view.js';

export type { NodeView, TypeStatus };

// Operations view of the ADS streams (served by the lead at /control-plane/api/v1/nodes).
// Bounded on purpose (go-control-plane #597 kept per-node state forever): an entry lives
// while its stream is open; after that only the last `retainDisconnected` entries are kept,
// for at most `retainMs`, so an operator can still see a gateway that just dropped.

export interface NodeRegistryOptions {
  /** How many disconnected streams to keep (default 100). */
  readonly retainDisconnected?: number;
  /** How long to keep a disconnected stream, ms (default 10 minutes). */
  readonly retainMs?: number;
  readonly now?: () => number;
  /** Snapshot status to include in toJSON (the cache's `status()`). */
  readonly snapshotStatus?: () => SnapshotStatus;
  /** This replica's name (default: the host name). */
  readonly replica?: string;
  /** Told when a client answers (ACK or NACK) the version last sent to it: how long that took. */
  readonly onPushAnswered?: (typeUrl: string, protocol: AdsProtocol, seconds: number) => void;
}

/** The registry's record of one stream; the stream reports to it. */
export class StreamRecord implements FleetNode {
  nodeId = '';
  cluster = '';
  userAgent = '';
  userAgentName = '';
  userAgentVersion = '';
  locality = '';
  zone = '';
  /** The registry's generation at this record's last change (what a peer replica asks "since"). */
  generation = 0;
  metadata: { [k: string]: JsonValue } = {};
  disconnectedAt: number | undefined;
  requests = 0;
  readonly types = new Map<string, TypeStatus>();
  /** Per type: when the version last sent went out, until the client answers it. */
  private readonly pending = new Map<string, { version: string; atMs: number }>();

  constructor(
    readonly streamId: number,
    readonly protocol: AdsProtocol,
    readonly peer: string,
    readonly connectedAt: number,
    private readonly now: () => number,
    private readonly onPushAnswered?: NodeRegistryOptions['onPushAnswered'],
    /** Told of every change, so watchers (the dashboard's event stream) know to look again. */
    private readonly changed: (rec: StreamRecord) => void = () => {},
    private readonly replicaName: () => string = () => '',
  ) {}

  get liveness(): NodeLiveness {
    return this.disconnectedAt === undefined ? 'connected' : 'disconnected';
  }

  get replica(): string {
    return this.replicaName();
  }

  /** Records the node of the stream's first request (only it is sure to carry one: xds_protocol.rst). */
  setNode(node: NodeMessage): void {
    this.nodeId = node.id;
    this.cluster = node.cluster;
    this.metadata = node.metadata ? structToJson(node.metadata) : {};
    const build = node.user_agent_build_version?.version;
    const version = node.user_agent_version ?? (build ? `${build.major_number}.${build.minor_number}.${build.patch}` : '');
    this.userAgentName = node.user_agent_name;
    this.userAgentVersion = version;
    this.userAgent = [node.user_agent_name, version].filter((s) => s !== '').join('/');
    const l = node.locality;
    this.locality = l ? [l.region, l.zone, l.sub_zone].filter((s) => s !== '').join('/') : '';
    this.zone = l?.zone ?? '';
    this.changed(this);
  }

  sent(typeUrl: string, version: string, nonce: string): void {
    this.type(typeUrl).lastSent = { version, nonce, at: this.iso() };
    this.pending.set(typeUrl, { version, atMs: this.now() });
    this.changed(this);
  }

  acked(typeUrl: string, version: string): void {
    const t = this.type(typeUrl);
    t.ackedVersion = version;
    t.ackedAt = this.iso();
    this.answered(typeUrl, version);
  }

  nacked(typeUrl: string, message: string, version: string, nonce: string): void {
    this.type(typeUrl).lastNack = { message, version, nonce, at: this.iso() };
    this.answered(typeUrl, version);
  }

  private answered(typeUrl: string, version: string): void {
    this.changed(this);
    const p = this.pending.get(typeUrl);
    // Only an answer to the latest version sent: an ACK of an older one says nothing about this push.
    if (p?.version !== version) return;
    this.pending.delete(typeUrl);
    this.onPushAnswered?.(typeUrl, this.protocol, (this.now() - p.atMs) / 1000);
  }

  view(): NodeView {
    return {
      streamId: this.streamId,
      state: this.disconnectedAt === undefined ? 'connected' : 'disconnected',
      protocol: this.protocol,
      peer: this.peer,
      nodeId: this.nodeId,
      cluster: this.cluster,
      userAgent: this.userAgent,
      userAgentName: this.userAgentName,
      userAgentVersion: this.userAgentVersion,
      locality: this.locality,
      zone: this.zone,
      metadata: this.metadata,
      connectedAt: new Date(this.connectedAt).toISOString(),
      disconnectedAt: this.disconnectedAt === undefined ? null : new Date(this.disconnectedAt).toISOString(),
      requests: this.requests,
      types: Object.fromEntries([...this.types].map(([k, v]) => [k, { ...v }])),
    };
  }

  private type(typeUrl: string): TypeStatus {
    let t = this.types.get(typeUrl);
    if (!t) {
      t = { lastSent: null, ackedVersion: null, ackedAt: null, lastNack: null };
      this.types.set(typeUrl, t);
    }
    return t;
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }
}

export class NodeRegistry {
  private readonly connected = new Map<number, StreamRecord>();
  /** Oldest first. */
  private disconnected: StreamRecord[] = [];
  private nextId = 1;
  private readonly retainDisconnected: number;
  private readonly retainMs: number;
  private readonly now: () => number;
  private readonly snapshotStatus: (() => SnapshotStatus) | undefined;
  private readonly onPushAnswered: NodeRegistryOptions['onPushAnswered'];
  private readonly listeners = new Set<() => void>();
  private readonly touch = (rec?: StreamRecord): void => {
    this.generation++;
    if (rec) rec.generation = this.generation;
    for (const l of this.listeners) l();
  };
  /** Grows on every change of any stream's record: a cheap "has anything changed since". */
  generation = 0;
  /** This replica's name in the fleet view (its address among its peers, once known). */
  replica: string;

  constructor(opts: NodeRegistryOptions = {}) {
    this.onPushAnswered = opts.onPushAnswered;
    this.retainDisconnected = opts.retainDisconnected ?? 100;
    this.retainMs = opts.retainMs ?? 10 * 60_000;
    this.now = opts.now ?? Date.now;
    this.snapshotStatus = opts.snapshotStatus;
    this.replica = opts.replica ?? hostname();
  }

  connect(protocol: AdsProtocol, peer: string): StreamRecord {
    const rec = new StreamRecord(this.nextId++, protocol, peer, this.now(), this.now, this.onPushAnswered, this.touch, () => this.replica);
    this.connected.set(rec.streamId, rec);
    this.touch(rec);
    return rec;
  }

  disconnect(rec: StreamRecord): void {
    if (!this.connected.delete(rec.streamId)) return;
    rec.disconnectedAt = this.now();
    this.disconnected.push(rec);
    this.prune();
    this.touch(rec);
  }

  /** Calls `listener` after every change; returns its removal. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Connected records (oldest first), then retained disconnected ones (newest first); no copies of their state. */
  records(): StreamRecord[] {
    this.prune();
    return [...this.connected.values(), ...[...this.disconnected].reverse()];
  }

  /** The cache's snapshot status, when the registry was given it. */
  snapshot(): SnapshotStatus | null {
    return this.snapshotStatus ? this.snapshotStatus() : null;
  }

  connectedCount(): number {
    return this.connected.size;
  }

  disconnectedCount(): number {
    this.prune();
    return this.disconnected.length;
  }

  /** Connected streams first (oldest first), then recently disconnected ones (newest first). */
  nodes(): NodeView[] {
    this.prune();
    return [...this.connected.values(), ...[...this.disconnected].reverse()].map((r) => r.view());
  }

  toJSON(): { nodes: NodeView[]; snapshot: SnapshotStatus | null } {
    return { nodes: this.nodes(), snapshot: this.snapshotStatus ? this.snapshotStatus() : null };
  }

  private prune(): void {
    const cutoff = this.now() - this.retainMs;
    let drop = Math.max(0, this.disconnected.length - this.retainDisconnected);
    while (drop < this.disconnected.length && (this.disconnected[drop]?.disconnectedAt ?? 0) < cutoff) drop++;
    if (drop > 0) this.disconnected = this.disconnected.slice(drop);
  }
}
