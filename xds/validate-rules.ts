// Checks for single values against protoc-gen-validate rule messages
// (deps/protoc-gen-validate/validate/validate.proto): numbers, bools, enums, durations,
// timestamps and Any type URLs; strings and bytes are in validate-strings.ts. Messages follow
// PGV's own wording so an operator can match them with what Envoy prints when it rejects the
// same config. The walk over messages, repeated fields and maps lives in validate.ts.
// Rule values come from protobufjs's .proto parser, which reads numbers as doubles: bounds above
// 2^53 are approximate (Envoy's largest bound is 2^32).

import type protobuf from 'protobufjs';

/** One rule message from a `(validate.rules)` option, as protobufjs parses it. */
export type RuleSet = { readonly [rule: string]: unknown };

/** Reports one violation; `rule` is e.g. `uint32.lte`. */
export type Report = (message: string, rule: string) => void;

export const INT_KINDS: ReadonlySet<string> = new Set([
  'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64',
]);
export const FLOAT_KINDS: ReadonlySet<string> = new Set(['float', 'double']);

/** A repeated rule value given once in a .proto (`not_in: 0`) is parsed as a scalar. */
export function asList(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

/** Integer (any width) from a number, decimal string, bigint or Long. */
export function toBigInt(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'string') return BigInt(v === '' ? 0 : v);
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (v && typeof v === 'object' && 'low' in v && 'high' in v) return BigInt(String(v));
  return 0n;
}

type Num = number | bigint;

type RangeCheck = (value: Num, report: Report) => void;
const compiledRanges = new WeakMap<RuleSet, RangeCheck>();

/** const / lt / lte / gt / gte / in / not_in, shared by numbers, durations and timestamps. */
export function checkRange(
  kind: string,
  rules: RuleSet,
  value: Num,
  conv: (v: unknown) => Num,
  show: (v: Num) => string,
  report: Report,
): void {
  // Rule objects live as long as the type's plan: convert bounds once, not once per endpoint.
  let check = compiledRanges.get(rules);
  if (!check) {
    check = compileRange(kind, rules, conv, show);
    compiledRanges.set(rules, check);
  }
  check(value, report);
}

function compileRange(kind: string, rules: RuleSet, conv: (v: unknown) => Num, show: (v: Num) => string): RangeCheck {
  const opt = (k: string): Num | undefined => (rules[k] === undefined || rules[k] === null ? undefined : conv(rules[k]));
  const c = opt('const');
  const lt = opt('lt'), lte = opt('lte'), gt = opt('gt'), gte = opt('gte');
  const upper = lt ?? lte;
  const lower = gt ?? gte;
  const upperRule = `${kind}.${lt !== undefined ? 'lt' : 'lte'}`;
  const lowerRule = `${kind}.${gt !== undefined ? 'gt' : 'gte'}`;
  const belowUpper = (v: Num): boolean => (lt !== undefined ? v < lt : lte === undefined || v <= lte);
  const aboveLower = (v: Num): boolean => (gt !== undefined ? v > gt : gte === undefined || v >= gte);
  let range: RangeCheck | undefined;
  if (upper !== undefined && lower !== undefined) {
    const rule = `${lowerRule}, ${upperRule}`;
    if (upper >= lower) {
      const msg = `value must be inside range ${gt !== undefined ? '(' : '['}${show(lower)}, ${show(upper)}${lt !== undefined ? ')' : ']'}`;
      range = (v, report) => {
        if (!(aboveLower(v) && belowUpper(v))) report(`${msg}, got ${show(v)}`, rule);
      };
    } else {
      // PGV "exclusive range": lt/lte below gt/gte means the value must lie outside [upper, lower].
      const msg = `value must be outside range ${lt !== undefined ? '[' : '('}${show(upper)}, ${show(lower)}${gt !== undefined ? ']' : ')'}`;
      range = (v, report) => {
        if (!aboveLower(v) && !belowUpper(v)) report(`${msg}, got ${show(v)}`, rule);
      };
    }
  } else if (upper !== undefined) {
    const msg = `value must be ${lt !== undefined ? 'less than' : 'less than or equal to'} ${show(upper)}`;
    range = (v, report) => {
      if (!belowUpper(v)) report(`${msg}, got ${show(v)}`, upperRule);
    };
  } else if (lower !== undefined) {
    const msg = `value must be ${gt !== undefined ? 'greater than' : 'greater than or equal to'} ${show(lower)}`;
    range = (v, report) => {
      if (!aboveLower(v)) report(`${msg}, got ${show(v)}`, lowerRule);
    };
  }
  const inList = asList(rules['in']).map(conv);
  const notIn = asList(rules['not_in']).map(conv);
  const inMsg = `value must be in list [${inList.map(show).join(', ')}]`;
  const notInMsg = `value must not be in list [${notIn.map(show).join(', ')}]`;
  return (value, report) => {
    if (c !== undefined && value != c) report(`value must equal ${show(c)}`, `${kind}.const`);
    range?.(value, report);
    if (inList.length > 0 && !inList.some((x) => x == value)) report(inMsg, `${kind}.in`);
    if (notIn.length > 0 && notIn.some((x) => x == value)) report(notInMsg, `${kind}.not_in`);
  };
}

/** 64-bit kinds compare as bigint (exact beyond 2^53); 32-bit ones and floats as numbers. */
const WIDE_KINDS: ReadonlySet<string> = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

export function checkNumber(kind: string, rules: RuleSet, value: unknown, report: Report): void {
  if (WIDE_KINDS.has(kind)) checkRange(kind, rules, toBigInt(value ?? 0), toBigInt, String, report);
  else checkRange(kind, rules, Number(value ?? 0), Number, String, report);
}

export function checkBool(rules: RuleSet, value: unknown, report: Report): void {
  if (rules['const'] !== undefined && Boolean(value) !== Boolean(rules['const'])) {
    report(`value must equal ${String(rules['const'])}`, 'bool.const');
  }
}

/** Enum value as its number; undefined for a name the enum does not define. */
export function enumNumber(type: protobuf.Enum, value: unknown): number | undefined {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'string') return type.values[value];
  return Number(value);
}

export function checkEnum(type: protobuf.Enum, rules: RuleSet, value: unknown, report: Report): void {
  const n = enumNumber(type, value);
  if (rules['defined_only'] === true && (n === undefined || type.valuesById[n] === undefined)) {
    report(`value must be one of the defined enum values`, 'enum.defined_only');
  }
  if (n === undefined) return;
  const names = (list: unknown[]): string =>
    list.map((x) => type.valuesById[Number(x)] ?? String(x)).join(', ');
  if (rules['const'] !== undefined && n !== Number(rules['const'])) {
    report(`value must equal ${names([rules['const']])}`, 'enum.const');
  }
  const inList = asList(rules['in']).map(Number);
  if (inList.length > 0 && !inList.includes(n)) report(`value must be in list [${names(inList)}]`, 'enum.in');
  const notIn = asList(rules['not_in']).map(Number);
  if (notIn.includes(n)) report(`value must not be in list [${names(notIn)}]`, 'enum.not_in');
}

const NANOS = 1_000_000_000n;

/** google.protobuf.Duration / Timestamp ({seconds, nanos}) as total nanoseconds. */
export function toNanos(v: unknown): bigint {
  if (!v || typeof v !== 'object') return 0n;
  const o = v as { seconds?: unknown; nanos?: unknown };
  return toBigInt(o.seconds ?? 0) * NANOS + toBigInt(o.nanos ?? 0);
}

/** Nanoseconds as Go/PGV print durations: `0s`, `1.5s`, `0.001s`. */
export function showDuration(n: Num): string {
  const v = BigInt(n);
  const sign = v < 0n ? '-' : '';
  const abs = v < 0n ? -v : v;
  const frac = (abs % NANOS).toString().padStart(9, '0').replace(/0+$/, '');
  return `${sign}${abs / NANOS}${frac ? `.${frac}` : ''}s`;
}

export function checkDuration(rules: RuleSet, value: unknown, present: boolean, report: Report): void {
  if (!present) {
    if (rules['required'] === true) report('value is required', 'duration.required');
    return;
  }
  checkRange('duration', rules, toNanos(value), toNanos, showDuration, report);
}

function showTimestamp(n: Num): string {
  return new Date(Number(BigInt(n) / 1_000_000n)).toISOString();
}

export function checkTimestamp(rules: RuleSet, value: unknown, present: boolean, report: Report): void {
  if (!present) {
    if (rules['required'] === true) report('value is required', 'timestamp.required');
    return;
  }
  const ts = toNanos(value);
  checkRange('timestamp', rules, ts, toNanos, showTimestamp, report);
  const now = BigInt(Date.now()) * 1_000_000n;
  if (rules['lt_now'] === true && !(ts < now)) report('value must be less than now', 'timestamp.lt_now');
  if (rules['gt_now'] === true && !(ts > now)) report('value must be greater than now', 'timestamp.gt_now');
  if (rules['within'] !== undefined) {
    const within = toNanos(rules['within']);
    const diff = ts > now ? ts - now : now - ts;
    if (diff > within) report(`value must be within ${showDuration(within)} of now`, 'timestamp.within');
  }
}

/** Type URL of an Any in either decoded form. */
export function anyTypeUrl(value: unknown): string {
  if (!value || typeof value !== 'object') return '';
  const o = value as { '@type'?: unknown; type_url?: unknown };
  return String(o['@type'] ?? o.type_url ?? '');
}

export function checkAny(rules: RuleSet, value: unknown, present: boolean, report: Report): void {
  if (!present) {
    if (rules['required'] === true) report('value is required', 'any.required');
    return;
  }
  const url = anyTypeUrl(value);
  const inList = asList(rules['in']).map(String);
  if (inList.length > 0 && !inList.includes(url)) report(`type URL must be in list [${inList.join(', ')}]`, 'any.in');
  const notIn = asList(rules['not_in']).map(String);
  if (notIn.includes(url)) report(`type URL must not be in list [${notIn.join(', ')}]`, 'any.not_in');
}
