import { request, type Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { NodeLoadView } from '../lrs/load-store.js';
import type { FleetNode, NodeLiveness, NodeView, TypeStatus } from '../xds/node-view.js';
import { PEER_STATE_PATH, peerAskQuery, type PeerHistory, type PeerLoad, type PeerState } from './peer-state.js';

// One peer replica, polled over its HTTP API: what it last said, kept until it says otherwise. A peer
// that does not answer keeps its last known records, shown as `unknown` (never dropped to zero), and
// is named with the error in the fleet view's `peers`.

/** A stream held by a peer, as the fleet query reads it. */
class PeerNode implements FleetNode {
  readonly types: ReadonlyMap<string, TypeStatus>;
  readonly connectedAt: number;

  constructor(
    private readonly v: NodeView,
    private readonly peer: PeerClient,
  ) {
    this.types = new Map(Object.entries(v.types));
    this.connectedAt = Date.parse(v.connectedAt);
  }
  get streamId(): number {
    return this.v.streamId;
  }
  get nodeId(): string {
    return this.v.nodeId;
  }
  get cluster(): string {
    return this.v.cluster;
  }
  get replica(): string {
    return this.peer.address;
  }
  get liveness(): NodeLiveness {
    return this.peer.up ? this.v.state : 'unknown';
  }
  view(): NodeView {
    return this.v;
  }
}

export interface PeerStatus {
  readonly address: string;
  /** up: answered the last poll; down: did not (its nodes are unknown); gone: left the peers' DNS name. */
  readonly state: 'up' | 'down' | 'gone';
  readonly since: string;
  readonly error: string | null;
  readonly lastAnswerAt: string | null;
  /** Records it holds (last known when not up). */
  readonly nodes: number;
}

export interface PeerClientOptions {
  readonly address: string;
  readonly selfInstance: string;
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** Told after a poll that changed what the fleet view shows. */
  readonly changed: (what: { nodes: boolean; load: boolean; history: boolean }) => void;
  /** HTTPS to the peers (their HTTP port serves TLS): the dispatcher to use, asked on every poll. */
  readonly tls?: PeerTls;
}

/** How a replica reaches its peers' HTTP port when it serves HTTPS (-server.http-tls-*). */
export interface PeerTls {
  /** The current dispatcher (rebuilt by the owner when the certificate files change). */
  dispatcher(): Dispatcher;
}

export class PeerClient {
  readonly address: string;
  up = false;
  /** The answer came from this very process (our own address in the peers' DNS name). */
  isSelf = false;
  gone = false;
  private instance = '';
  private generations = { nodes: -1, load: -1, history: -1 };
  private readonly records = new Map<number, PeerNode>();
  load: PeerLoad | null = null;
  /** Per-gateway load rows by stream id, kept up to date from the deltas. */
  private readonly loadRows = new Map<number, NodeLoadView>();
  history: PeerHistory | null = null;
  private error: string | null = 'not asked yet';
  private stateSince = Date.now();
  private lastAnswerAt: number | undefined;

  constructor(private readonly opts: PeerClientOptions) {
    this.address = opts.address;
  }

  nodes(): Iterable<PeerNode> {
    return this.records.values();
  }

  loadNodes(): Iterable<NodeLoadView> {
    return this.loadRows.values();
  }

  status(): PeerStatus {
    return {
      address: this.address,
      state: this.gone ? 'gone' : this.up ? 'up' : 'down',
      since: new Date(this.stateSince).toISOString(),
      error: this.error,
      lastAnswerAt: this.lastAnswerAt === undefined ? null : new Date(this.lastAnswerAt).toISOString(),
      nodes: this.records.size,
    };
  }

  async poll(): Promise<void> {
    const ask = { instance: this.instance, ...this.generations };
    let state: PeerState;
    try {
      const tls = this.opts.tls;
      const res = await request(`${tls ? 'https' : 'http'}://${this.address}${PEER_STATE_PATH}?${peerAskQuery(ask)}`, {
        headersTimeout: this.opts.timeoutMs,
        bodyTimeout: this.opts.timeoutMs,
        ...(tls ? { dispatcher: tls.dispatcher() } : {}),
      });
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new Error(`HTTP ${res.statusCode} from ${PEER_STATE_PATH} (is it a metrics-gateway control plane of this version?)`);
      }
      state = (await res.body.json()) as PeerState;
    } catch (err) {
      this.failed(err instanceof Error ? err.message || err.name : String(err));
      return;
    }
    if (state.instance === this.opts.selfInstance) {
      this.isSelf = true;
      return;
    }
    this.accept(state);
  }

  private failed(message: string): void {
    const wasUp = this.up;
    if (wasUp || this.error === 'not asked yet') this.stateSince = Date.now();
    this.up = false;
    this.error = message;
    if (wasUp) {
      this.opts.logger.warn({ peer: this.address, err: message }, 'control-plane peer does not answer; its gateways are shown as unknown');
      this.opts.changed({ nodes: true, load: true, history: false });
    }
  }

  private accept(state: PeerState): void {
    const wasUp = this.up;
    if (state.instance !== this.instance) {
      this.records.clear();
      this.loadRows.clear();
      this.instance = state.instance;
    }
    let nodesChanged = !wasUp;
    if (state.nodes) {
      nodesChanged = true;
      if (state.nodes.full) this.records.clear();
      const keep = new Set(state.nodes.ids);
      for (const id of this.records.keys()) if (!keep.has(id)) this.records.delete(id);
      for (const v of state.nodes.changed) this.records.set(v.streamId, new PeerNode(v, this));
      this.generations.nodes = state.nodes.generation;
    }
    if (state.load) {
      if (state.load.full) this.loadRows.clear();
      const keep = new Set(state.load.ids);
      for (const id of this.loadRows.keys()) if (!keep.has(id)) this.loadRows.delete(id);
      for (const n of state.load.nodes) this.loadRows.set(n.streamId, n);
      this.load = state.load;
      this.generations.load = state.load.generation;
    }
    if (state.history) {
      this.history = state.history;
      this.generations.history = state.history.generation;
    }
    this.up = true;
    this.error = null;
    this.lastAnswerAt = Date.now();
    if (!wasUp) {
      this.stateSince = Date.now();
      this.opts.logger.info({ peer: this.address }, 'control-plane peer answers');
    }
    if (nodesChanged || state.load || state.history) {
      this.opts.changed({ nodes: nodesChanged, load: state.load !== null || !wasUp, history: state.history !== null });
    }
  }
}
