import * as grpc from '@grpc/grpc-js';
import { loadEnvoyService, type NodeMessage } from '../../xds/ads-service.js';
import { TYPE_ORDER } from '../../xds/resource.js';
import { jsonToStruct } from '../../xds/struct.js';
import type { FleetNode } from '../xds/node-view.js';
import { typeSyncState, type TypeSyncState } from '../xds/node-query.js';
import { nodeIdPredicate, UnsupportedMatcherError, type NodeMatcherMessage } from './node-matcher.js';

// envoy.service.status.v3.ClientStatusDiscoveryService (csds.proto), as istiod serves it: one
// ClientConfig per connected xDS client of the whole fleet (this replica's and its peers'), one
// GenericXdsConfig per resource type with the version last sent and its sync state, so `istioctl
// proxy-status`-style tooling reads the fleet without our JSON. A client held by a peer replica that
// does not answer is listed with every type UNKNOWN ("Status info is not available/unknown").
// Node matchers: see node-matcher.ts (OR-ed; what is not supported is refused with INVALID_ARGUMENT).

const CSDS_SERVICE = 'envoy.service.status.v3.ClientStatusDiscoveryService';

interface ClientStatusRequestMessage {
  readonly node_matchers: readonly NodeMatcherMessage[];
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
  readonly config_status: 'SYNCED' | 'NOT_SENT' | 'STALE' | 'ERROR' | 'UNKNOWN';
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

/** One GenericXdsConfig per type of a node; all UNKNOWN for a node whose replica does not answer. */
function typeConfigs(r: FleetNode): GenericXdsConfigMessage[] {
  return TYPE_ORDER.map((typeUrl): GenericXdsConfigMessage => {
    const t = r.types.get(typeUrl);
    if (r.liveness === 'unknown') {
      return { type_url: typeUrl, name: '', version_info: t?.lastSent?.version ?? '', last_updated: null, config_status: 'UNKNOWN', client_status: 'UNKNOWN', error_state: null };
    }
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
  });
}

/** The answer to one request; throws UnsupportedMatcherError for a request it cannot honour. */
export function clientStatus(nodes: readonly FleetNode[], req: ClientStatusRequestMessage): ClientStatusResponseMessage {
  const wanted = nodeIdPredicate(req.node_matchers ?? []);
  const config = nodes
    .filter((r) => r.liveness !== 'disconnected' && r.nodeId !== '' && wanted(r.nodeId))
    .map((r) => {
      const v = r.view();
      const node = {
        id: v.nodeId,
        cluster: v.cluster,
        user_agent_name: v.userAgentName,
        user_agent_version: v.userAgentVersion,
        metadata: Object.keys(v.metadata).length > 0 ? jsonToStruct(v.metadata) : null,
      };
      return { node, generic_xds_configs: typeConfigs(r) };
    });
  return { config };
}

type Answer = { ok: ClientStatusResponseMessage } | { error: Partial<grpc.StatusObject> };

function answer(nodes: () => readonly FleetNode[], req: ClientStatusRequestMessage): Answer {
  try {
    return { ok: clientStatus(nodes(), req) };
  } catch (err) {
    if (!(err instanceof UnsupportedMatcherError)) throw err;
    return { error: { code: grpc.status.INVALID_ARGUMENT, details: err.message } };
  }
}

/** Registers CSDS (both methods) on `server`, answering from the fleet's nodes. */
export function addCsds(server: grpc.Server, nodes: () => readonly FleetNode[]): void {
  const { service } = loadEnvoyService('envoy/service/status/v3/csds.proto', CSDS_SERVICE);
  const fetch: grpc.handleUnaryCall<ClientStatusRequestMessage, ClientStatusResponseMessage> = (call, callback) => {
    const a = answer(nodes, call.request);
    if ('ok' in a) callback(null, a.ok);
    else callback(a.error);
  };
  const stream: grpc.handleBidiStreamingCall<ClientStatusRequestMessage, ClientStatusResponseMessage> = (call) => {
    call.on('data', (req: ClientStatusRequestMessage) => {
      const a = answer(nodes, req);
      // A request it cannot honour ends the stream with the status (gRPC has no per-message error).
      if ('ok' in a) call.write(a.ok);
      else call.emit('error', a.error);
    });
    call.on('end', () => call.end());
    call.on('error', () => {});
  };
  server.addService(service, { FetchClientStatus: fetch, StreamClientStatus: stream });
}

export { CSDS_SERVICE };
