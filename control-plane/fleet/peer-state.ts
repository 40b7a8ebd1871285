import type { HistoryEntry } from '../dashboard/fleet-history.js';
import type { ClusterLoadView, NodeLoadView } from '../lrs/load-store.js';
import type { NodeView } from '../xds/node-view.js';

// What one control-plane replica tells its peers (GET /control-plane/api/v1/peer/state), so each can
// show the whole fleet. Read-only: no replica acts on another's streams. Each part comes with its
// generation; a peer asks "since" the generations it holds and gets only what changed: node records
// changed since (plus the ids of all it holds, so it can drop the ones that went), per-gateway load
// rows of the streams that reported since (plus the ids), the per-backend load view and the history only
// when they changed at all. `instance` changes when the process restarts: then the
// asker's generations mean nothing and it gets everything again.

export interface PeerNodes {
  readonly generation: number;
  /** True when `changed` holds every record (first ask, or another instance). */
  readonly full: boolean;
  /** Stream ids of every record held (connected, and recently disconnected ones). */
  readonly ids: readonly number[];
  readonly changed: readonly NodeView[];
}

export interface PeerLoad {
  readonly generation: number;
  /** True when `nodes` holds every reporting stream. */
  readonly full: boolean;
  readonly clusters: readonly ClusterLoadView[];
  /** Stream ids of every reporting stream. */
  readonly ids: readonly number[];
  /** Streams that reported since the generation asked for. */
  readonly nodes: readonly NodeLoadView[];
}

export interface PeerHistory {
  readonly generation: number;
  readonly entries: readonly HistoryEntry[];
}

export interface PeerState {
  readonly instance: string;
  /** null: unchanged since the generation asked for. */
  readonly nodes: PeerNodes | null;
  readonly load: PeerLoad | null;
  readonly history: PeerHistory | null;
}

/** The generations an asker holds (query parameters of the same names). */
export interface PeerAsk {
  readonly instance: string;
  readonly nodes: number;
  readonly load: number;
  readonly history: number;
}

export const PEER_STATE_PATH = '/control-plane/api/v1/peer/state';

export function peerAskQuery(ask: PeerAsk): string {
  return new URLSearchParams({ instance: ask.instance, nodes: String(ask.nodes), load: String(ask.load), history: String(ask.history) }).toString();
}

export function parsePeerAsk(q: Record<string, string | string[] | undefined>): PeerAsk {
  const one = (k: string): string => {
    const v = q[k];
    return typeof v === 'string' ? v : '';
  };
  const gen = (k: string): number => (/^\d+$/.test(one(k)) ? Number(one(k)) : -1);
  return { instance: one('instance'), nodes: gen('nodes'), load: gen('load'), history: gen('history') };
}
