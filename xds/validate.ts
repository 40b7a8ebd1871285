// protoc-gen-validate checks for Envoy v3 resources: the `(validate.rules)` field annotations and
// `(validate.required)` oneof annotations in the Envoy protos, i.e. what Envoy itself enforces when
// it receives a resource (a violation there is a NACK). Walks a decoded message into nested
// messages, repeated fields, maps and google.protobuf.Any whose type the root knows.
//
// protobufjs exposes extension options two ways: `field.options` flattens them
// (`'(validate.rules).string.min_len': 1`) and loses nesting of repeated/message rules, while
// `field.parsedOptions` keeps each option statement as `{'(validate.rules)': {...}}`. We read
// parsedOptions and merge the statements. Oneof and message options only carry booleans, so
// `oneof.options['(validate.required)']` / `type.options['(validate.disabled)']` suffice.

import protobuf from 'protobufjs';
import { decodeResource, lookupType, typeNameOf, envoyRoot, type PlainMessage } from './protos.js';
import {
  FLOAT_KINDS, INT_KINDS, anyTypeUrl, checkAny, checkBool, checkDuration, checkEnum, checkNumber, checkTimestamp,
  type Report, type RuleSet,
} from './validate-rules.js';
import { checkBytes, checkString, toBytes } from './validate-strings.js';

/** A FieldRules message (validate.proto) as parsed from the .proto text. */
type FieldRules = { readonly [kind: string]: RuleSet | undefined };

/** How a singular value of the field is checked; decided once (protobufjs computes fullName on every read). */
type ValueKind = 'duration' | 'timestamp' | 'any' | 'wrapper' | 'message' | 'enum' | 'scalar';

interface FieldPlan {
  readonly field: protobuf.Field;
  readonly kind: ValueKind;
  readonly enumType: protobuf.Enum | undefined;
  readonly rules: FieldRules | undefined;
  /** Member of a oneof (incl. proto3 `optional`): rules apply only when set. */
  readonly inOneof: boolean;
  /** Message type to recurse into, when it (transitively) has anything to check. */
  readonly walkType: protobuf.Type | undefined;
}

interface TypePlan {
  readonly isAny: boolean;
  readonly fields: readonly FieldPlan[];
  readonly requiredOneofs: readonly { readonly name: string; readonly fields: readonly string[] }[];
}

const WRAPPERS: ReadonlySet<string> = new Set(
  ['Double', 'Float', 'Int64', 'UInt64', 'Int32', 'UInt32', 'Bool', 'String', 'Bytes'].map((w) => `.google.protobuf.${w}Value`),
);
const ANY = '.google.protobuf.Any';
const DURATION = '.google.protobuf.Duration';
const TIMESTAMP = '.google.protobuf.Timestamp';

const plans = new WeakMap<protobuf.Type, TypePlan>();
const walkable = new WeakMap<protobuf.Type, boolean>();

function fieldRules(field: protobuf.Field): FieldRules | undefined {
  let merged: Record<string, RuleSet> | undefined;
  // Typed loosely by protobufjs; at runtime an array of `{ '(option.name)': value }` statements.
  const statements = (field.parsedOptions ?? []) as unknown as ReadonlyArray<Record<string, unknown>>;
  for (const opt of statements) {
    const rules = opt['(validate.rules)'];
    if (!rules || typeof rules !== 'object') continue;
    merged ??= {};
    for (const [kind, r] of Object.entries(rules as Record<string, RuleSet>)) {
      merged[kind] = { ...(merged[kind] ?? {}), ...r };
    }
  }
  return merged;
}

/** Whether a message type, or anything reachable from it, carries a rule (cycles count as yes). */
function needsWalk(type: protobuf.Type): boolean {
  if (type.fullName === ANY) return true;
  if (type.fullName.startsWith('.google.protobuf.')) return false;
  if (!walkable.has(type)) planFor(type);
  return walkable.get(type) ?? true;
}

function planFor(type: protobuf.Type): TypePlan {
  const cached = plans.get(type);
  if (cached) return cached;
  const plan: { isAny: boolean; fields: FieldPlan[]; requiredOneofs: TypePlan['requiredOneofs'] } = {
    isAny: type.fullName === ANY,
    fields: [],
    requiredOneofs: [],
  };
  // Registered before recursing, as message types may be recursive; while a type's plan is being
  // built it counts as having rules (conservative: at worst we walk a subtree with nothing to check).
  plans.set(type, plan);
  walkable.set(type, true);
  if (type.options?.['(validate.disabled)'] === true) {
    walkable.set(type, false);
    return plan;
  }
  const requiredOneofs = [];
  for (const oneof of type.oneofsArray) {
    if (oneof.options?.['(validate.required)'] === true) {
      requiredOneofs.push({ name: oneof.name, fields: oneof.fieldsArray.map((f) => f.name) });
    }
  }
  plan.requiredOneofs = requiredOneofs;
  for (const field of type.fieldsArray) {
    field.resolve();
    const rules = fieldRules(field);
    const resolved = field.resolvedType;
    const msg = resolved instanceof protobuf.Type ? resolved : undefined;
    const walkType = msg && rules?.['message']?.['skip'] !== true && needsWalk(msg) ? msg : undefined;
    const enumType = resolved instanceof protobuf.Enum ? resolved : undefined;
    if (rules || walkType) {
      plan.fields.push({ field, kind: valueKind(resolved), enumType, rules, inOneof: field.partOf !== null, walkType });
    }
  }
  walkable.set(type, plan.fields.length > 0 || plan.requiredOneofs.length > 0);
  return plan;
}

function valueKind(resolved: protobuf.Type | protobuf.Enum | null): ValueKind {
  if (resolved instanceof protobuf.Enum) return 'enum';
  if (!resolved) return 'scalar';
  const name = resolved.fullName;
  if (name === DURATION) return 'duration';
  if (name === TIMESTAMP) return 'timestamp';
  if (name === ANY) return 'any';
  return WRAPPERS.has(name) ? 'wrapper' : 'message';
}

const isSet = (v: unknown): boolean => v !== undefined && v !== null;

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

/**
 * Checks `object` (a decoded message, see decodeResource) against the PGV rules of `type`.
 * Returns `"<path>: <what is wrong> (<rule>)"` strings; empty when valid.
 */
export function validateMessage(type: protobuf.Type, object: unknown, path = ''): string[] {
  const out: string[] = [];
  walkMessage(type, object ?? {}, path, out);
  return out;
}

function walkMessage(type: protobuf.Type, object: unknown, path: string, out: string[]): void {
  const plan = planFor(type);
  if (plan.isAny) {
    walkAny(object, path, out);
    return;
  }
  if (!object || typeof object !== 'object') return;
  const obj = object as Record<string, unknown>;
  for (const oneof of plan.requiredOneofs) {
    if (!oneof.fields.some((f) => isSet(obj[f]))) {
      out.push(`${join(path, oneof.name)}: value is required: set one of ${oneof.fields.join(', ')} (validate.required)`);
    }
  }
  for (const fp of plan.fields) {
    const value = obj[fp.field.name];
    if (fp.inOneof && !isSet(value)) continue;
    const at = join(path, fp.field.name);
    if (fp.field.map) walkMap(fp, value, at, out);
    else if (fp.field.repeated) walkRepeated(fp, value, at, out);
    else walkValue(fp, fp.rules, fp.walkType, value, at, out);
  }
}

function walkAny(object: unknown, path: string, out: string[]): void {
  if (!object || typeof object !== 'object') return;
  const url = anyTypeUrl(object);
  const inner = envoyRoot().lookup(typeNameOf(url));
  if (!(inner instanceof protobuf.Type) || !needsWalk(inner)) return;
  const o = object as Record<string, unknown>;
  // `{'@type', ...fields}` is already expanded; `{type_url, value}` carries the encoded message.
  let embedded: unknown = o;
  if (!('@type' in o)) {
    try {
      embedded = decodeResource(url, toBytes(o['value']));
    } catch (err) {
      out.push(`${path}: cannot decode embedded ${inner.name}: ${(err as Error).message} (any)`);
      return;
    }
  }
  walkMessage(inner, embedded, path, out);
}

/** One singular value (a field, a repeated item or a map value) against its rules. */
function walkValue(
  fp: FieldPlan,
  rules: FieldRules | undefined,
  walkType: protobuf.Type | undefined,
  value: unknown,
  path: string,
  out: string[],
): void {
  const present = isSet(value);
  if (rules) {
    const report: Report = (message, rule) => out.push(`${path}: ${message} (${rule})`);
    switch (fp.kind) {
      case 'scalar':
      case 'enum':
        checkScalar(rules, value, fp.enumType, report);
        return;
      case 'duration':
        if (rules['duration']) checkDuration(rules['duration'], value, present, report);
        break;
      case 'timestamp':
        if (rules['timestamp']) checkTimestamp(rules['timestamp'], value, present, report);
        break;
      case 'any':
        if (rules['any']) checkAny(rules['any'], value, present, report);
        break;
      case 'wrapper':
        // Rules on a wrapper field apply to its `value` (PGV "Wrapper types").
        if (present) checkScalar(rules, (value as { value?: unknown }).value, undefined, report);
        break;
      case 'message':
        break;
    }
    if (rules['message']?.['required'] === true && !present) report('value is required', 'message.required');
  }
  if (present && walkType) walkMessage(walkType, value, path, out);
}

function checkScalar(rules: FieldRules, value: unknown, enumType: protobuf.Enum | undefined, report: Report): void {
  for (const [kind, r] of Object.entries(rules)) {
    if (!r) continue;
    if (kind === 'string') checkString(r, value, report);
    else if (kind === 'bytes') checkBytes(r, value, report);
    else if (kind === 'bool') checkBool(r, value, report);
    else if (kind === 'enum' && enumType) checkEnum(enumType, r, value, report);
    else if (INT_KINDS.has(kind) || FLOAT_KINDS.has(kind)) checkNumber(kind, r, value, report);
  }
}

function walkRepeated(fp: FieldPlan, value: unknown, path: string, out: string[]): void {
  const items = Array.isArray(value) ? value : [];
  const rules = fp.rules?.['repeated'];
  if (rules) {
    const min = rules['min_items'], max = rules['max_items'];
    if (min !== undefined && items.length < Number(min)) {
      out.push(`${path}: value must contain at least ${Number(min)} item(s) (repeated.min_items)`);
    }
    if (max !== undefined && items.length > Number(max)) {
      out.push(`${path}: value must contain no more than ${Number(max)} item(s) (repeated.max_items)`);
    }
    if (rules['unique'] === true) {
      const seen = new Set<string>();
      for (const item of items) {
        const key = JSON.stringify(item);
        if (seen.has(key)) {
          out.push(`${path}: repeated value must contain unique items (repeated.unique)`);
          break;
        }
        seen.add(key);
      }
    }
  }
  const itemRules = rules?.['items'] as FieldRules | undefined;
  const walkType = itemRules?.['message']?.['skip'] === true ? undefined : fp.walkType;
  if (!itemRules && !walkType) return;
  items.forEach((item, i) => walkValue(fp, itemRules, walkType, item, `${path}[${i}]`, out));
}

function walkMap(fp: FieldPlan, value: unknown, path: string, out: string[]): void {
  const entries = value && typeof value === 'object' ? Object.entries(value as Record<string, unknown>) : [];
  const rules = fp.rules?.['map'];
  if (rules) {
    const min = rules['min_pairs'], max = rules['max_pairs'];
    if (min !== undefined && entries.length < Number(min)) {
      out.push(`${path}: value must contain at least ${Number(min)} pair(s) (map.min_pairs)`);
    }
    if (max !== undefined && entries.length > Number(max)) {
      out.push(`${path}: value must contain no more than ${Number(max)} pair(s) (map.max_pairs)`);
    }
  }
  const keyRules = rules?.['keys'] as FieldRules | undefined;
  const valueRules = rules?.['values'] as FieldRules | undefined;
  const walkType = valueRules?.['message']?.['skip'] === true ? undefined : fp.walkType;
  const keyType = fp.field instanceof protobuf.MapField ? fp.field.keyType : 'string';
  for (const [key, v] of entries) {
    const at = `${path}[${JSON.stringify(key)}]`;
    if (rules?.['no_sparse'] === true && !isSet(v)) {
      out.push(`${at}: value cannot be sparse, all pairs must be non-nil (map.no_sparse)`);
    }
    if (keyRules) {
      const k = keyType === 'string' ? key : keyType === 'bool' ? key === 'true' : key;
      checkScalar(keyRules, k, undefined, (m, rule) => out.push(`${at}: key ${m.replace(/^value /, '')} (map.keys.${rule})`));
    }
    if (valueRules || walkType) walkValue(fp, valueRules, walkType, v, at, out);
  }
}

/** Short resource label for messages: `Cluster "distributor"`. */
function label(type: protobuf.Type, obj: PlainMessage): string {
  const name = obj['name'] ?? obj['cluster_name'];
  return typeof name === 'string' ? `${type.name} ${JSON.stringify(name)}` : type.name;
}

/**
 * Validates one resource (its encoded bytes, or a decoded/plain object in the form decodeResource
 * returns) as Envoy would. Each entry reads like
 * `Cluster "distributor": load_assignment.endpoints[0]...port_value: value must be less than or equal to 65535, got 70000 (uint32.lte)`.
 */
export function validateResource(typeUrl: string, value: Uint8Array | PlainMessage): string[] {
  const type = lookupType(typeUrl);
  let obj: PlainMessage;
  if (value instanceof Uint8Array) {
    try {
      obj = decodeResource(typeUrl, value);
    } catch (err) {
      return [`${type.name}: cannot decode as ${typeNameOf(typeUrl)}: ${(err as Error).message}`];
    }
  } else {
    obj = value;
  }
  const prefix = label(type, obj);
  return validateMessage(type, obj).map((v) => `${prefix}: ${v}`);
}

/** Exposed for tests: the merged `(validate.rules)` of a field, as protobufjs parsed them. */
export function rulesOf(typeName: string, fieldName: string): FieldRules | undefined {
  const field = lookupType(typeName).fields[fieldName];
  return field ? fieldRules(field) : undefined;
}
