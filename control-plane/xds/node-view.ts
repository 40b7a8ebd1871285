import type { JsonValue } from '../../xds/struct.js';
import type { AdsProtocol } from './xds-metrics.js';

// What the fleet's queries (the nodes API, CSDS, the dashboard) read of one xDS stream: a view, so
// the query neither knows nor imports where the stream is held, by this replica's registry
// (node-registry.ts) or by a peer replica (control-plane/fleet/).

export interface TypeStatus {
  lastSent: { version: string; nonce: string; at: string } | null;
  ackedVersion: string | null;
  ackedAt: string | null;
  lastNack: { message: string; version: string; nonce: string; at: string } | null;
}

export interface NodeView {
  readonly streamId: number;
  readonly state: 'connected' | 'disconnected';
  readonly protocol: AdsProtocol;
  readonly peer: string;
  readonly nodeId: string;
  readonly cluster: string;
  /** user_agent_name/user_agent_version, as one word for the tables. */
  readonly userAgent: string;
  readonly userAgentName: string;
  readonly userAgentVersion: string;
  /** Node.locality as region/zone/sub_zone ('' when not given). */
  readonly locality: string;
  /** Node.locality.zone alone ('' when not given; absent from older peers). */
  readonly zone?: string;
  readonly metadata: { [k: string]: JsonValue };
  readonly connectedAt: string;
  readonly disconnectedAt: string | null;
  /** Requests received on the stream. */
  readonly requests: number;
  /** Keyed by type URL. */
  readonly types: Readonly<Record<string, TypeStatus>>;
}

/**
 * A stream as the fleet sees it. `unknown`: held by a peer replica that does not answer now, so its
 * sync state is not known (shown as unknown, never counted as connected or as zero).
 */
export type NodeLiveness = 'connected' | 'disconnected' | 'unknown';

export interface FleetNode {
  readonly streamId: number;
  readonly nodeId: string;
  readonly cluster: string;
  /** ms since the epoch. */
  readonly connectedAt: number;
  readonly liveness: NodeLiveness;
  /** The control-plane replica that holds the stream. */
  readonly replica: string;
  readonly types: ReadonlyMap<string, TypeStatus>;
  view(): NodeView;
}
