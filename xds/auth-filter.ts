// Tenant authentication as it travels over xDS. The control plane puts an HTTP filter on the gateway
// Listener's HttpConnectionManager, before the router, whose typed_config is an xds.type.v3.TypedStruct
// (how Envoy carries a filter config it has no compiled proto for) holding the realm, limits and the
// tokens: ids, tenants, scopes, expiry, scrypt hashes, access policy names and label policies. Envoy's basic_auth filter carries its users the
// same way, inside the filter config (envoy.extensions.filters.http.basic_auth.v3.BasicAuth.users).
// `is_optional` lets an Envoy, which has no such filter, take the Listener anyway.
// Each route names the scopes it needs in its metadata. A gateway never reads the tokens file.

import { ACCESS_POLICY_PATTERN, hashProblem, isScope, SCOPES, TOKEN_ID_PATTERN, type Scope, type TokenEntry } from '../core/auth.js';
import { parseSeriesSelector } from '../core/label-selector.js';
import type { RouteScopes } from '../core/routes.js';
import type { DecodedListener, DecodedStruct } from './decoded.js';
import { GATEWAY_METADATA_KEY } from './gateway-metadata.js';
import type { PlainMessage } from './protos.js';
import { HCM_TYPE_URL } from './resource.js';
import { decodedStructToJson, jsonToPlainStruct, type JsonValue } from './struct.js';

export const AUTH_FILTER_NAME = 'metrics-gateway.auth';
export const TYPED_STRUCT_TYPE_URL = 'type.googleapis.com/xds.type.v3.TypedStruct';
/** The type our TypedStruct says its value is (no .proto: the fields are documented below). */
export const AUTH_CONFIG_TYPE_URL = 'type.googleapis.com/metrics_gateway.auth.v1.BasicAuth';
/** What the API and config dumps show instead of a hash. */
export const REDACTED = '<redacted>';

export interface AuthFilterConfig {
  /** WWW-Authenticate: Basic realm="..." (RFC 7617). */
  readonly realm: string;
  /** How long a verified token is trusted without running the KDF again. */
  readonly cacheTtlMs: number;
  /** Failed authentications one client address may make per window before it gets 429. */
  readonly failureLimit: number;
  readonly failureWindowMs: number;
  /** Sorted by id. */
  readonly tokens: readonly TokenEntry[];
}

/** The HTTP filter for the gateway's HttpConnectionManager; `redact` gives the view for dumps. */
export function authHttpFilter(cfg: AuthFilterConfig, redact = false): PlainMessage {
  const tokens = [...cfg.tokens].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const value: Record<string, JsonValue> = {
    realm: cfg.realm,
    cache_ttl_seconds: cfg.cacheTtlMs / 1000,
    failure_limit: cfg.failureLimit,
    failure_window_seconds: cfg.failureWindowMs / 1000,
    tokens: tokens.map((t) => ({
      id: t.id,
      tenants: [...t.tenants],
      scopes: [...t.scopes],
      hash: redact ? REDACTED : t.hash,
      ...(t.expiresAtMs !== undefined ? { expires_at: new Date(t.expiresAtMs).toISOString() } : {}),
      ...(t.accessPolicy !== undefined ? { access_policy: t.accessPolicy } : {}),
      ...(t.labelPolicies ? { label_policies: Object.fromEntries(Object.entries(t.labelPolicies).map(([k, v]) => [k, [...v]])) } : {}),
    })),
  };
  return {
    name: AUTH_FILTER_NAME,
    is_optional: true,
    typed_config: { '@type': TYPED_STRUCT_TYPE_URL, type_url: AUTH_CONFIG_TYPE_URL, value: jsonToPlainStruct(value) },
  };
}

/** Route metadata naming the scopes the route needs. */
export function routeScopeMetadata(scopes: RouteScopes): PlainMessage {
  return { filter_metadata: { [GATEWAY_METADATA_KEY]: jsonToPlainStruct({ read_scope: scopes.read, write_scope: scopes.write }) } };
}

/** The scopes a decoded route names, undefined when it names none (then `admin` applies). */
export function routeScopesOf(route: { readonly metadata?: { readonly filter_metadata?: Readonly<Record<string, DecodedStruct>> } }): RouteScopes | undefined {
  const s = route.metadata?.filter_metadata?.[GATEWAY_METADATA_KEY];
  if (!s) return undefined;
  const m = decodedStructToJson(s);
  const read = m['read_scope'];
  const write = m['write_scope'];
  if (typeof read !== 'string' || typeof write !== 'string' || !isScope(read) || !isScope(write)) return undefined;
  return { read, write };
}

/** Problems with a route's scope metadata (NACKed): a scope that is not one of SCOPES. */
export function routeScopeProblem(route: { readonly metadata?: { readonly filter_metadata?: Readonly<Record<string, DecodedStruct>> } }): string | undefined {
  const s = route.metadata?.filter_metadata?.[GATEWAY_METADATA_KEY];
  if (!s) return undefined;
  const m = decodedStructToJson(s);
  for (const k of ['read_scope', 'write_scope']) {
    if (m[k] !== undefined && (typeof m[k] !== 'string' || !isScope(m[k]))) return `metadata ${k} ${JSON.stringify(m[k])} is not a scope`;
  }
  return undefined;
}

interface DecodedHttpFilter {
  readonly name?: string;
  readonly typed_config?: { readonly '@type'?: string; readonly type_url?: string; readonly value?: DecodedStruct };
}

/** The auth filter of the listener's HttpConnectionManager, if it has one. */
function findAuthFilter(listener: DecodedListener): DecodedHttpFilter | undefined {
  for (const chain of listener.filter_chains ?? []) {
    for (const f of chain.filters ?? []) {
      const hcm = f.typed_config as { '@type'?: string; http_filters?: readonly DecodedHttpFilter[] } | undefined;
      if (hcm?.['@type'] !== HCM_TYPE_URL) continue;
      const found = hcm.http_filters?.find((h) => h.name === AUTH_FILTER_NAME);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * The listener's auth config: undefined without the filter (trust mode), or the problems that make
 * it unusable (the gateway NACKs those and keeps enforcing the last good token set).
 */
export function authConfigOf(listener: DecodedListener): AuthFilterConfig | { readonly problems: string[] } | undefined {
  const f = findAuthFilter(listener);
  if (!f) return undefined;
  const tc = f.typed_config;
  if (tc?.['@type'] !== TYPED_STRUCT_TYPE_URL || tc.type_url !== AUTH_CONFIG_TYPE_URL) {
    return { problems: [`filter "${AUTH_FILTER_NAME}": typed_config must be an ${TYPED_STRUCT_TYPE_URL} of ${AUTH_CONFIG_TYPE_URL}, got ${tc?.['@type'] ?? 'none'} ${tc?.type_url ?? ''}`.trim()] };
  }
  const v = decodedStructToJson(tc.value ?? {});
  const problems: string[] = [];
  const where = `filter "${AUTH_FILTER_NAME}"`;
  const num = (k: string, min: number): number => {
    const x = v[k];
    if (typeof x !== 'number' || !Number.isFinite(x) || x < min) {
      problems.push(`${where}: ${k} ${JSON.stringify(x ?? null)} must be a number >= ${min}`);
      return min;
    }
    return x;
  };
  const realm = typeof v['realm'] === 'string' && /^[\x20-\x7e]*$/.test(v['realm']) && !v['realm'].includes('"') ? v['realm'] : undefined;
  if (realm === undefined) problems.push(`${where}: realm ${JSON.stringify(v['realm'] ?? null)} must be printable ASCII without '"'`);
  const cacheTtlMs = num('cache_ttl_seconds', 0) * 1000;
  const failureLimit = num('failure_limit', 1);
  const failureWindowMs = num('failure_window_seconds', 0.001) * 1000;
  const tokens: TokenEntry[] = [];
  const list = v['tokens'];
  if (!Array.isArray(list)) problems.push(`${where}: tokens must be a list`);
  const seen = new Set<string>();
  for (const [i, raw] of (Array.isArray(list) ? list : []).entries()) {
    const at = `${where}: tokens[${i}]`;
    const t = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? raw : {};
    const id = t['id'];
    if (typeof id !== 'string' || !TOKEN_ID_PATTERN.test(id)) problems.push(`${at}: id ${JSON.stringify(id ?? null)} must match ${TOKEN_ID_PATTERN}`);
    else if (seen.has(id)) problems.push(`${at}: id "${id}" appears twice`);
    else seen.add(id);
    const tenants = t['tenants'];
    const tenantOk = Array.isArray(tenants) && tenants.length > 0 && tenants.every((x) => typeof x === 'string' && x !== '');
    if (!tenantOk) problems.push(`${at}: tenants must be a non-empty list of tenant names`);
    const scopes = t['scopes'];
    const scopeOk = Array.isArray(scopes) && scopes.every((x) => typeof x === 'string' && isScope(x));
    if (!scopeOk) problems.push(`${at}: scopes ${JSON.stringify(scopes ?? null)} must be a list of ${SCOPES.join(', ')}`);
    const hash = t['hash'];
    const hp = typeof hash === 'string' ? hashProblem(hash) : 'is missing';
    if (hp) problems.push(`${at}: hash ${hp}`);
    let expiresAtMs: number | undefined;
    if (t['expires_at'] !== undefined) {
      expiresAtMs = typeof t['expires_at'] === 'string' ? Date.parse(t['expires_at']) : NaN;
      if (!Number.isFinite(expiresAtMs)) problems.push(`${at}: expires_at ${JSON.stringify(t['expires_at'])} is not an RFC 3339 time`);
    }
    const accessPolicy = t['access_policy'];
    if (accessPolicy !== undefined && (typeof accessPolicy !== 'string' || !ACCESS_POLICY_PATTERN.test(accessPolicy))) {
      problems.push(`${at}: access_policy ${JSON.stringify(accessPolicy)} must match ${ACCESS_POLICY_PATTERN}`);
    }
    const labelPolicies = decodeLabelPolicies(t['label_policies'], tenantOk ? (tenants as string[]) : [], `${at}: label_policies`, problems);
    if (typeof id === 'string' && tenantOk && scopeOk && !hp) {
      tokens.push({
        id,
        tenants: tenants as string[],
        scopes: scopes as Scope[],
        hash: hash as string,
        expiresAtMs,
        ...(typeof accessPolicy === 'string' ? { accessPolicy } : {}),
        ...(labelPolicies ? { labelPolicies } : {}),
      });
    }
  }
  if (problems.length > 0) return { problems };
  return { realm: realm!, cacheTtlMs, failureLimit, failureWindowMs, tokens };
}

/** A token's label policies as delivered: checked again here, so a bad selector is NACKed, never sent upstream. */
function decodeLabelPolicies(v: JsonValue | undefined, tenants: readonly string[], at: string, problems: string[]): Record<string, string[]> | undefined {
  if (v === undefined) return undefined;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    problems.push(`${at} must map tenants to lists of series selectors`);
    return undefined;
  }
  const out: Record<string, string[]> = {};
  for (const [tenant, list] of Object.entries(v)) {
    if (!tenants.includes(tenant)) problems.push(`${at}: tenant "${tenant}" is not one of the token's tenants`);
    if (!Array.isArray(list) || list.length === 0 || !list.every((x) => typeof x === 'string')) {
      problems.push(`${at}.${tenant} must be a non-empty list of series selectors`);
      continue;
    }
    for (const sel of list as string[]) {
      try {
        parseSeriesSelector(sel);
      } catch (err) {
        problems.push(`${at}.${tenant}: ${JSON.stringify(sel)} is not a series selector: ${(err as Error).message}`);
      }
    }
    out[tenant] = list as string[];
  }
  return out;
}
