// protoc-gen-validate string and bytes rules (validate.proto StringRules, BytesRules), incl. the
// well-known formats (hostname, ip, address, ...) and the HTTP header regexes Envoy uses.

import { isIP, isIPv4, isIPv6 } from 'node:net';
import { asList, type Report, type RuleSet } from './validate-rules.js';

// PGV's well-known regexes (validate.proto KnownRegex; RFC 7230 section 3.2). `strict: false`
// only forbids NUL, CR and LF, which is what Envoy uses for header names/values in its API.
const HEADER_NAME = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;
// eslint-disable-next-line no-control-regex
const HEADER_VALUE = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;
// eslint-disable-next-line no-control-regex
const HEADER_LOOSE = /^[^\u0000\u000A\u000D]*$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

const patternCache = new Map<string, RegExp>();

/** RE2 pattern as a JS RegExp; the patterns Envoy uses are in the common RE2/JS subset. */
function compilePattern(pattern: string): RegExp {
  let re = patternCache.get(pattern);
  if (!re) {
    try {
      re = new RegExp(pattern, 'u');
    } catch {
      re = new RegExp(pattern); // RE2 allows escapes like \~ that unicode-mode JS rejects
    }
    patternCache.set(pattern, re);
  }
  return re;
}

/** Hostname per RFC 1034 as PGV checks it: labels of 1-63 [A-Za-z0-9-], not starting/ending in '-'. */
export function isHostname(s: string): boolean {
  const host = s.endsWith('.') ? s.slice(0, -1) : s;
  if (host.length === 0 || host.length > 253) return false;
  return host.split('.').every((l) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
}

function isEmail(s: string): boolean {
  const m = /^(?:.*<)?([^<>@\s]+)@([^<>@\s]+?)>?$/.exec(s);
  return m !== null && (m[1]?.length ?? 0) <= 64 && isHostname(m[2] ?? '');
}

function isUri(s: string, relative: boolean): boolean {
  try {
    if (relative) new URL(s, 'http://base.invalid/');
    else new URL(s);
    return true;
  } catch {
    return false;
  }
}

const WELL_KNOWN: ReadonlyArray<[string, (s: string) => boolean, string]> = [
  ['email', isEmail, 'value must be a valid email address'],
  ['hostname', isHostname, 'value must be a valid hostname'],
  ['ip', (s) => isIP(s) !== 0, 'value must be a valid IP address'],
  ['ipv4', isIPv4, 'value must be a valid IPv4 address'],
  ['ipv6', isIPv6, 'value must be a valid IPv6 address'],
  ['uri', (s) => isUri(s, false), 'value must be a valid URI'],
  ['uri_ref', (s) => isUri(s, true), 'value must be a valid URI reference'],
  ['address', (s) => isHostname(s) || isIP(s) !== 0, 'value must be a valid hostname, or ip address'],
  ['uuid', (s) => UUID.test(s), 'value must be a valid UUID'],
];

const quote = (s: unknown): string => JSON.stringify(String(s));

export function checkString(rules: RuleSet, raw: unknown, report: Report): void {
  const value = typeof raw === 'string' ? raw : raw === undefined || raw === null ? '' : String(raw);
  if (rules['ignore_empty'] === true && value === '') return;
  const n = (k: string): number | undefined => (rules[k] === undefined ? undefined : Number(rules[k]));
  if (rules['const'] !== undefined && value !== rules['const']) report(`value must equal ${quote(rules['const'])}`, 'string.const');
  const runes = [...value].length;
  const bytes = Buffer.byteLength(value, 'utf8');
  const len = n('len'), minLen = n('min_len'), maxLen = n('max_len');
  const lenBytes = n('len_bytes'), minBytes = n('min_bytes'), maxBytes = n('max_bytes');
  if (len !== undefined && runes !== len) report(`value length must be ${len} runes`, 'string.len');
  if (minLen !== undefined && runes < minLen) report(`value length must be at least ${minLen} runes`, 'string.min_len');
  if (maxLen !== undefined && runes > maxLen) report(`value length must be at most ${maxLen} runes`, 'string.max_len');
  if (lenBytes !== undefined && bytes !== lenBytes) report(`value length must be ${lenBytes} bytes`, 'string.len_bytes');
  if (minBytes !== undefined && bytes < minBytes) report(`value length must be at least ${minBytes} bytes`, 'string.min_bytes');
  if (maxBytes !== undefined && bytes > maxBytes) report(`value length must be at most ${maxBytes} bytes`, 'string.max_bytes');
  if (typeof rules['pattern'] === 'string' && !compilePattern(rules['pattern']).test(value)) {
    report(`value does not match regex pattern ${quote(rules['pattern'])}`, 'string.pattern');
  }
  if (typeof rules['prefix'] === 'string' && !value.startsWith(rules['prefix'])) {
    report(`value does not have prefix ${quote(rules['prefix'])}`, 'string.prefix');
  }
  if (typeof rules['suffix'] === 'string' && !value.endsWith(rules['suffix'])) {
    report(`value does not have suffix ${quote(rules['suffix'])}`, 'string.suffix');
  }
  if (typeof rules['contains'] === 'string' && !value.includes(rules['contains'])) {
    report(`value does not contain substring ${quote(rules['contains'])}`, 'string.contains');
  }
  if (typeof rules['not_contains'] === 'string' && value.includes(rules['not_contains'])) {
    report(`value contains substring ${quote(rules['not_contains'])}`, 'string.not_contains');
  }
  const inList = asList(rules['in']).map(String);
  if (inList.length > 0 && !inList.includes(value)) report(`value must be in list [${inList.join(', ')}]`, 'string.in');
  const notIn = asList(rules['not_in']).map(String);
  if (notIn.includes(value)) report(`value must not be in list [${notIn.join(', ')}]`, 'string.not_in');
  for (const [key, ok, message] of WELL_KNOWN) {
    if (rules[key] === true && !ok(value)) report(message, `string.${key}`);
  }
  const known = rules['well_known_regex'];
  if (known === 'HTTP_HEADER_NAME' || known === 1 || known === 'HTTP_HEADER_VALUE' || known === 2) {
    const isName = known === 'HTTP_HEADER_NAME' || known === 1;
    // `strict` defaults to true (validate.proto: `optional bool strict = 25 [default = true]`).
    const strict = rules['strict'] !== false;
    const re = strict ? (isName ? HEADER_NAME : HEADER_VALUE) : HEADER_LOOSE;
    // An empty name never matches the strict name regex (`+`); PGV reports it the same way.
    if (!re.test(value)) {
      const what = isName ? 'HTTP header name' : 'HTTP header value';
      report(`value must be a valid ${what}${strict ? '' : ' (no NUL, CR or LF)'}`, 'string.well_known_regex');
    }
  }
}

/** Bytes arrive base64-encoded from decodeResource (proto3 JSON) or as a Uint8Array. */
export function toBytes(v: unknown): Buffer {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (typeof v === 'string') return Buffer.from(v, 'base64');
  return Buffer.alloc(0);
}

export function checkBytes(rules: RuleSet, raw: unknown, report: Report): void {
  const value = toBytes(raw);
  const opt = (k: string): Buffer | undefined =>
    rules[k] === undefined ? undefined : Buffer.from(String(rules[k]), 'latin1');
  const n = (k: string): number | undefined => (rules[k] === undefined ? undefined : Number(rules[k]));
  const c = opt('const');
  if (c && !value.equals(c)) report(`value must equal the configured bytes`, 'bytes.const');
  const len = n('len'), minLen = n('min_len'), maxLen = n('max_len');
  if (len !== undefined && value.length !== len) report(`value length must be ${len} bytes`, 'bytes.len');
  if (minLen !== undefined && value.length < minLen) report(`value length must be at least ${minLen} bytes`, 'bytes.min_len');
  if (maxLen !== undefined && value.length > maxLen) report(`value length must be at most ${maxLen} bytes`, 'bytes.max_len');
  if (typeof rules['pattern'] === 'string' && !compilePattern(rules['pattern']).test(value.toString('latin1'))) {
    report(`value does not match regex pattern ${quote(rules['pattern'])}`, 'bytes.pattern');
  }
  const prefix = opt('prefix'), suffix = opt('suffix'), contains = opt('contains');
  if (prefix && !value.subarray(0, prefix.length).equals(prefix)) report(`value does not have the required prefix`, 'bytes.prefix');
  if (suffix && !value.subarray(value.length - suffix.length).equals(suffix)) report(`value does not have the required suffix`, 'bytes.suffix');
  if (contains && value.indexOf(contains) < 0) report(`value does not contain the required bytes`, 'bytes.contains');
  const list = (k: string): Buffer[] => asList(rules[k]).map((x) => Buffer.from(String(x), 'latin1'));
  const inList = list('in');
  if (inList.length > 0 && !inList.some((b) => b.equals(value))) report(`value must be in the configured list`, 'bytes.in');
  if (list('not_in').some((b) => b.equals(value))) report(`value must not be in the configured list`, 'bytes.not_in');
  if (rules['ip'] === true && value.length !== 4 && value.length !== 16) report(`value must be a valid IP address`, 'bytes.ip');
  if (rules['ipv4'] === true && value.length !== 4) report(`value must be a valid IPv4 address`, 'bytes.ipv4');
  if (rules['ipv6'] === true && value.length !== 16) report(`value must be a valid IPv6 address`, 'bytes.ipv6');
}

