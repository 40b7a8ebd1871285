import * as grpc from '@grpc/grpc-js';
import { loadEnvoyService, type NodeMessage } from '../../xds/ads-service.js';
import { TYPE_ORDER } from '../../xds/resource.js';
import type { NodeRegistry, StreamRecord } from '../xds/node-registry.js';
import { typeSyncState, type TypeSyncState } from '../xds/node-query.js';

// envoy.service.status.v3.ClientStatusDiscoveryService (csds.proto), as istiod serves it: one
// ClientConfig per connected xDS client, one GenericXdsConfig per resource type with the version last
// sent and its sync state, so `istioctl proxy-status`-style tooling reads the fleet without our JSON.
// Node matchers: node_id exact or prefix (what operators ask for); other matchers match everything.

const CSDS_SERVICE = 'envoy.service.status.v3.ClientStatusDiscoveryService';

interface StringMatcherMessage {
  readonly match_pattern?: string;
  readonly exact?: string;
  readonly prefix?: string;
}

interface ClientStatusRequestMessage {
  readonly node_matchers: readonly { readonly node_id: StringMatcherMessage | null }[];
  readonly node: NodeMessage | null;
  readonly exclude_resource_contents: boolean;
}

interface Timestamp {
  readonly seconds: number;
  readonly nanos: number;
}

interface GenericXdsConfigMessage {
  readonly type_url: string;
  readonly name: string;
  readonly version_info: string;
  readonly last_updated: Timestamp | null;
  readonly config_status: 'SYNCED' | 'NOT_SENT' | 'STALE' | 'ERROR';
  readonly client_status: 'UNKNOWN' | 'REQUESTED' | 'ACKED' | 'NACKED';
  readonly error_state: { readonly details: string; readonly version_info: string; readonly last_update_attempt: Timestamp | null } | null;
}

export interface ClientStatusResponseMessage {
  readonly config: readonly {
    readonly node: Partial<NodeMessage>;
    readonly generic_xds_configs: readonly GenericXdsConfigMessage[];
  }[];
}

/** proxy-status words: STALE is "sent, not ACKed"; ERROR is the NACK. */
const CONFIG_STATUS: Record<TypeSyncState, GenericXdsConfigMessage['config_status']> = {
  synced: 'SYNCED',
  'not-acked': 'STALE',
  nacked: 'ERROR',
  'not-sent': 'NOT_SENT',
};
const CLIENT_STATUS: Record<TypeSyncState, GenericXdsConfigMessage['client_status']> = {
  synced: 'ACKED',
  'not-acked': 'REQUESTED',
  nacked: 'NACKED',
  'not-sent': 'UNKNOWN',
};

function timestamp(iso: string | undefined): Timestamp | null {
  if (iso === undefined) return null;
  const ms = Date.parse(iso);
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

function matches(r: StreamRecord, req: ClientStatusRequestMessage): boolean {
  return req.node_matchers.every((m) => {
    const id = m.node_id;
    if (!id) return true;
    if (id.match_pattern === 'exact' || id.exact) return r.nodeId === id.exact;
    if (id.match_pattern === 'prefix' || id.prefix) return r.nodeId.startsWith(id.prefix ?? '');
    return true;
  });
}

export function clientStatus(nodes: NodeRegistry, req: ClientStatusRequestMessage): ClientStatusResponseMessage {
  const config = nodes
    .records()
    .filter((r) => r.disconnectedAt === undefined && r.nodeId !== '' && matches(r, req))
    .map((r) => ({
      node: { id: r.nodeId, cluster: r.cluster, user_agent_name: r.userAgent },
      generic_xds_configs: TYPE_ORDER.map((typeUrl): GenericXdsConfigMessage => {
        const t = r.types.get(typeUrl);
        const state = typeSyncState(t);
        const nack = state === 'nacked' ? t?.lastNack : null;
        return {
          type_url: typeUrl,
          name: '',
          version_info: t?.lastSent?.version ?? '',
          last_updated: timestamp(t?.ackedAt ?? t?.lastSent?.at),
          config_status: CONFIG_STATUS[state],
          client_status: CLIENT_STATUS[state],
          error_state: nack ? { details: nack.message, version_info: nack.version, last_update_attempt: timestamp(nack.at) } : null,
        };
      }),
    }));
  return { config };
}

/** Registers CSDS (both methods) on `server`, answering from `nodes`. */
export function addCsds(server: grpc.Server, nodes: NodeRegistry): void {
  const { service } = loadEnvoyService('envoy/service/status/v3/csds.proto', CSDS_SERVICE);
  const fetch: grpc.handleUnaryCall<ClientStatusRequestMessage, ClientStatusResponseMessage> = (call, callback) =>
    callback(null, clientStatus(nodes, call.request));
  const stream: grpc.handleBidiStreamingCall<ClientStatusRequestMessage, ClientStatusResponseMessage> = (call) => {
    call.on('data', (req: ClientStatusRequestMessage) => call.write(clientStatus(nodes, req)));
    call.on('end', () => call.end());
    call.on('error', () => {});
  };
  server.addService(service, { FetchClientStatus: fetch, StreamClientStatus: stream });
}

export { CSDS_SERVICE };
