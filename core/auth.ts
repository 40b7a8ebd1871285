// Tenant authentication as both planes and the CLI see it: scopes, the token model, and the secret
// hash. GEM's model: HTTP basic auth, username = tenant, password = an access token with scopes.
// Only a hash of each secret ever leaves the CLI that minted it (file, xDS, memory of gateways).

import { randomBytes, scrypt, scryptSync, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** GEM's access-policy scopes. */
export const SCOPES = ['metrics:write', 'metrics:read', 'rules:read', 'rules:write', 'alerts:read', 'alerts:write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s);
}

export const AUTH_TYPES = ['trust', 'token'] as const;
export type AuthType = (typeof AUTH_TYPES)[number];

/** One entry of the tokens file, as delivered to gateways. */
export interface TokenEntry {
  /** Names the token in logs, the API and the file; also the first part of its secret. */
  readonly id: string;
  /** Tenants (X-Scope-OrgID values) the token may act for. */
  readonly tenants: readonly string[];
  readonly scopes: readonly Scope[];
  /** Epoch ms after which the token is refused; undefined: never expires. */
  readonly expiresAtMs: number | undefined;
  /** scryptHash() of the secret. */
  readonly hash: string;
  /** GEM's access policy the token belongs to: sent upstream as X-Access-Policy-Name (usage attribution). */
  readonly accessPolicy?: string;
  /**
   * Label-based access: per tenant, PromQL series selectors (core/label-selector.ts) a read may see
   * (any of them: GEM's disjunctive form). Sent upstream as X-Prom-Label-Policy on read paths.
   */
  readonly labelPolicies?: Readonly<Record<string, readonly string[]>>;
}

/** Access policy names: GEM's are lower-case words too (its API's "name"), printable in a header. */
export const ACCESS_POLICY_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

/** Token ids: a DNS-label-like word, so it can lead the secret and be split off it unambiguously. */
export const TOKEN_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * Secret = `<id>.<43 base64url characters of randomness>`: the id lets a gateway find the one entry
 * to check, so a request costs at most one KDF run, never one per token of the tenant.
 */
export function mintSecret(id: string): string {
  return `${id}.${randomBytes(32).toString('base64url')}`;
}

/** The token id a secret names, or undefined when it has no `<id>.` prefix. */
export function secretTokenId(secret: string): string | undefined {
  const dot = secret.indexOf('.');
  return dot > 0 ? secret.slice(0, dot) : undefined;
}

// scrypt (RFC 7914) with OWASP's minimum for it (N=2^15, r=8, p=1: 32 MiB, tens of ms), in the
// PHC string format so the parameters travel with the hash and can be raised without breaking
// existing entries: $scrypt$ln=15,r=8,p=1$<salt>$<hash> (base64 without padding).
const DEFAULT_PARAMS = { ln: 15, r: 8, p: 1 } as const;
const KEY_LEN = 32;
const HASH_PATTERN = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{43})$/;

interface ParsedHash {
  readonly options: ScryptOptions;
  readonly salt: Buffer;
  readonly key: Buffer;
}

/** Why `hash` is not a hash this code can check, or undefined when it is. */
export function hashProblem(hash: string): string | undefined {
  const m = HASH_PATTERN.exec(hash);
  if (!m) return 'is not an scrypt hash "$scrypt$ln=<n>,r=<r>,p=<p>$<salt>$<hash>"; make one with `metrics-gateway tokens mint`';
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (ln < 10 || ln > 20 || r < 1 || r > 32 || p < 1 || p > 16) return `has scrypt parameters ln=${ln},r=${r},p=${p} outside ln 10-20, r 1-32, p 1-16`;
  return undefined;
}

function parseHash(hash: string): ParsedHash | undefined {
  if (hashProblem(hash) !== undefined) return undefined;
  const m = HASH_PATTERN.exec(hash)!;
  const N = 2 ** Number(m[1]);
  const r = Number(m[2]);
  const p = Number(m[3]);
  // Node's default maxmem (32 MiB) is exactly 128*N*r for ln=15: leave room for the parameters.
  return { options: { N, r, p, maxmem: 256 * N * r * p }, salt: Buffer.from(m[4]!, 'base64'), key: Buffer.from(m[5]!, 'base64') };
}

const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '');

/** The hash to store for `secret` (synchronous: the CLI's one-off). */
export function scryptHash(secret: string, params: { ln: number; r: number; p: number } = DEFAULT_PARAMS): string {
  const salt = randomBytes(16);
  const N = 2 ** params.ln;
  const key = scryptSync(secret, salt, KEY_LEN, { N, r: params.r, p: params.p, maxmem: 256 * N * params.r * params.p });
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`;
}

/** True when `secret` matches `hash`. Runs the KDF off the event loop; compares in constant time. */
export async function verifySecret(secret: string, hash: string): Promise<boolean> {
  const parsed = parseHash(hash);
  if (!parsed) return false;
  const derived = await new Promise<Buffer>((resolve, reject) =>
    scrypt(secret, parsed.salt, parsed.key.length, parsed.options, (err, key) => (err ? reject(err) : resolve(key))),
  );
  return timingSafeEqual(derived, parsed.key);
}
