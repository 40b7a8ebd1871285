// google.protobuf.Struct as proto-loader decodes and encodes it (camelCase, `kind` names the set
// field) ↔ plain JSON: node metadata in both directions.

import type { StructMessage, StructValueMessage } from './ads-service.js';
import type { DecodedStruct, DecodedStructValue } from './decoded.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

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

/** google.protobuf.Struct (as proto-loader decodes it) → plain JSON. */
export function structToJson(s: StructMessage): { [k: string]: JsonValue } {
  const out: { [k: string]: JsonValue } = {};
  for (const [k, v] of Object.entries(s.fields ?? {})) out[k] = valueToJson(v);
  return out;
}

function valueToJson(v: StructValueMessage): JsonValue {
  switch (v.kind) {
    case 'numberValue':
      return v.numberValue ?? 0;
    case 'stringValue':
      return v.stringValue ?? '';
    case 'boolValue':
      return v.boolValue ?? false;
    case 'structValue':
      return v.structValue ? structToJson(v.structValue) : {};
    case 'listValue':
      return (v.listValue?.values ?? []).map(valueToJson);
    default:
      return null;
  }
}

// The same conversions for protobufjs (encodeResource/decodeResource): no `kind`, the set field alone
// says which value it is (xds/decoded.ts DecodedStruct).

/** Plain JSON → google.protobuf.Struct for encodeResource. */
export function jsonToPlainStruct(obj: Readonly<Record<string, JsonValue>>): { fields: Record<string, unknown> } {
  const fields: Record<string, unknown> = {};
  for (const k of Object.keys(obj).sort()) fields[k] = jsonToPlainValue(obj[k]!);
  return { fields };
}

function jsonToPlainValue(v: JsonValue): unknown {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToPlainValue) } };
  return { structValue: jsonToPlainStruct(v) };
}

/** google.protobuf.Struct as decodeResource returns it → plain JSON. */
export function decodedStructToJson(s: DecodedStruct): { [k: string]: JsonValue } {
  const out: { [k: string]: JsonValue } = {};
  for (const [k, v] of Object.entries(s.fields ?? {})) out[k] = decodedValueToJson(v);
  return out;
}

function decodedValueToJson(v: DecodedStructValue): JsonValue {
  if (v.numberValue !== undefined) return v.numberValue;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.structValue !== undefined) return decodedStructToJson(v.structValue);
  if (v.listValue !== undefined) return (v.listValue.values ?? []).map(decodedValueToJson);
  return null;
}
