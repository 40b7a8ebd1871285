import type { NodeMessage, StructMessage, StructValueMessage } from '../../control-plane/xds/ads-service.js';
import type { JsonValue } from '../../control-plane/xds/node-registry.js';

// The envoy.config.core.v3.Node the gateway identifies itself with on its ADS stream.

export type { JsonValue };

export interface XdsNodeOptions {
  readonly id: string;
  readonly cluster: string;
  readonly metadata?: Readonly<Record<string, JsonValue>>;
}

export const USER_AGENT_NAME = 'metrics-gateway';

export function nodeMessage(node: XdsNodeOptions, userAgentVersion: string): NodeMessage {
  return {
    id: node.id,
    cluster: node.cluster,
    metadata: node.metadata ? jsonToStruct(node.metadata) : null,
    user_agent_name: USER_AGENT_NAME,
    user_agent_version: userAgentVersion,
  };
}

/** Plain JSON → google.protobuf.Struct in the camelCase form proto-loader's bundled Struct uses. */
export function jsonToStruct(obj: Readonly<Record<string, JsonValue>>): StructMessage {
  const fields: Record<string, StructValueMessage> = {};
  for (const [k, v] of Object.entries(obj)) fields[k] = jsonToValue(v);
  return { fields };
}

function jsonToValue(v: JsonValue): StructValueMessage {
  if (v === null) {
    // NullValue is an enum whose only value is NULL_VALUE; StructValueMessage does not type it.
    const nullValue = { kind: 'nullValue', nullValue: 'NULL_VALUE' };
    return nullValue as StructValueMessage;
  }
  if (typeof v === 'number') return { kind: 'numberValue', numberValue: v };
  if (typeof v === 'string') return { kind: 'stringValue', stringValue: v };
  if (typeof v === 'boolean') return { kind: 'boolValue', boolValue: v };
  if (Array.isArray(v)) return { kind: 'listValue', listValue: { values: v.map(jsonToValue) } };
  return { kind: 'structValue', structValue: jsonToStruct(v) };
}
