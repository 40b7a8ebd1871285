import type { NodeMessage } from '../../xds/ads-service.js';
import { jsonToStruct, type JsonValue } from '../../xds/struct.js';

// The envoy.config.core.v3.Node the gateway identifies itself with on its ADS stream.

export type { JsonValue };

export interface XdsNodeOptions {
  readonly id: string;
  readonly cluster: string;
  readonly metadata?: Readonly<Record<string, JsonValue>>;
  readonly locality?: { readonly region: string; readonly zone: string };
}

export const USER_AGENT_NAME = 'metrics-gateway';

export function nodeMessage(node: XdsNodeOptions, userAgentVersion: string): NodeMessage {
  return {
    id: node.id,
    cluster: node.cluster,
    metadata: node.metadata ? jsonToStruct(node.metadata) : null,
    ...(node.locality && (node.locality.region || node.locality.zone) ? { locality: { region: node.locality.region, zone: node.locality.zone, sub_zone: '' } } : {}),
    user_agent_name: USER_AGENT_NAME,
    user_agent_version: userAgentVersion,
  };
}
