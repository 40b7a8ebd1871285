// HTTP basic auth against the token set the control plane delivered (RFC 7617: username = tenant,
// password = token secret). An Authenticator is built per applied config and swapped in with the rest
// of the GatewayState; the AuthRuntime outlives them and holds what must survive a swap: the cache of
// verified credentials, the failure limiter, the metrics.
//
// Cost per request: a known Authorization header is one Map lookup and the per-request checks. The KDF (scrypt,
// tens of ms) runs once per token per -auth.cache-ttl, off the event loop, and concurrent requests
// with the same credential share one run.

import type { IncomingMessage } from 'node:http';
import NodeCache from 'node-cache';
import type { Logger } from 'pino';
import { secretTokenId, verifySecret, type TokenEntry } from '../../core/auth.js';
import { labelPolicyHeader } from '../../core/label-selector.js';
import type { ErrorKey } from '../../core/errors.js';
import { needsScope, type RouteScopes } from '../../core/routes.js';
import type { AuthFilterConfig } from '../../xds/auth-filter.js';
import type { AuthMetrics, AuthReason } from './auth-metrics.js';
import { FailureLimiter } from './failure-limiter.js';

export type AuthResult =
  | {
      readonly ok: true;
      readonly tenant: string;
      readonly tokenId: string;
      /** Access-policy headers for the upstream request, as raw [name, value, ...] pairs (GEM's). */
      readonly policyHeaders: readonly string[];
    }
  | { readonly ok: false; readonly key: ErrorKey; readonly reason: AuthReason; readonly message: string; readonly headers: Record<string, string> };

/** What a verified credential is cached as: the entry's hash it matched (so a changed entry misses). */
interface Verified {
  readonly id: string;
  readonly hash: string;
}

export class AuthRuntime {
  /** Token secret → the entry it was verified against (the tenant is checked per request). useClones off: values are immutable. */
  private readonly verified = new NodeCache({ checkperiod: 60, useClones: false });
  private readonly inflight = new Map<string, Promise<boolean>>();
  readonly limiter = new FailureLimiter();
  private current: ReadonlyMap<string, TokenEntry> = new Map();

  constructor(
    readonly metrics: AuthMetrics,
    readonly logger: Logger,
  ) {}

  /** The authenticator for a newly applied config; cached verifications of changed or removed entries are dropped. */
  authenticatorFor(cfg: AuthFilterConfig): Authenticator {
    const next = new Map(cfg.tokens.map((t) => [t.id, t]));
    const stale = new Set<string>();
    for (const [id, old] of this.current) if (next.get(id)?.hash !== old.hash) stale.add(id);
    if (stale.size > 0) {
      for (const key of this.verified.keys()) {
        const v = this.verified.get<Verified>(key);
        if (v && stale.has(v.id)) this.verified.del(key);
      }
    }
    this.current = next;
    this.metrics.tokens.set(next.size);
    return new Authenticator(cfg, next, this);
  }

  /** Trust mode: no token set. */
  clear(): void {
    this.current = new Map();
    this.verified.flushAll();
    this.metrics.tokens.set(0);
  }

  close(): void {
    this.verified.close();
  }

  cachedHash(secret: string): Verified | undefined {
    return this.verified.get<Verified>(secret);
  }

  /** When the cached verification of `secret` expires (ms since the epoch); 0 when there is none. */
  verifiedUntil(secret: string): number {
    return this.verified.getTtl(secret) || 0;
  }

  /** Checks `secret` against `entry` with the KDF, once for concurrent callers; caches a match. */
  verify(secret: string, entry: TokenEntry, ttlMs: number): Promise<boolean> {
    const key = `${entry.hash}\0${secret}`;
    let p = this.inflight.get(key);
    if (!p) {
      this.metrics.kdfRuns.inc();
      p = verifySecret(secret, entry.hash)
        .then((ok) => {
          if (ok) this.verified.set<Verified>(secret, { id: entry.id, hash: entry.hash }, ttlMs / 1000);
          return ok;
        })
        .catch(() => false)
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }
}

/** An Authorization header seen verified: parsing, the id lookup and the cache lookup done once. */
interface KnownHeader {
  readonly tenant: string;
  readonly entry: TokenEntry;
  /** The verification's cache expiry: the header cache never outlives it. */
  readonly validUntil: number;
}

/** Distinct verified headers kept per token set; past this the map starts over (no clients flood it: only verified headers enter). */
const KNOWN_HEADERS_MAX = 4096;

export class Authenticator {
  readonly challenge: Record<string, string>;
  /**
   * Exact Authorization header → what it verified as. One Map hit per request instead of parse, base64
   * and node-cache lookup (about 10 us of 27 us auth cost per request in the server, BENCHMARKS.md).
   * Per Authenticator, i.e. per applied token set: a revocation or changed hash starts with an empty
   * map. Expiry, tenant and scope are still checked per request in authorize().
   */
  private readonly known = new Map<string, KnownHeader>();
  /** Token id, tenant and read-or-not → the access-policy header pairs: built once per token set. */
  private readonly policyHeaders = new Map<string, readonly string[]>();

  constructor(
    readonly cfg: AuthFilterConfig,
    private readonly tokens: ReadonlyMap<string, TokenEntry>,
    private readonly runtime: AuthRuntime,
  ) {
    this.challenge = { 'www-authenticate': `Basic realm="${cfg.realm}", charset="UTF-8"` };
  }

  get tokenIds(): string[] {
    return [...this.tokens.keys()];
  }

  /** Synchronous when the credential is cached (the common case), else a promise. */
  check(req: IncomingMessage, scopes: RouteScopes | undefined): AuthResult | Promise<AuthResult> {
    const header = req.headers.authorization;
    if (header === undefined) return this.fail('missing', 'AUTH_MISSING', 'authentication required: send HTTP basic auth with the tenant as username and an access token as password');
    const known = this.known.get(header);
    if (known !== undefined) {
      if (Date.now() < known.validUntil) return this.authorize(req, known.entry, known.tenant, scopes);
      this.known.delete(header);
    }
    const creds = parseBasic(header);
    if (!creds) return this.fail('malformed', 'AUTH_MISSING', 'the Authorization header is not HTTP basic auth "Basic base64(tenant:token)"');
    const { tenant, secret } = creds;
    const id = secretTokenId(secret);
    const entry = id === undefined ? undefined : this.tokens.get(id);
    const cached = this.runtime.cachedHash(secret);
    if (entry && cached && cached.hash === entry.hash) {
      this.remember(header, tenant, entry, secret);
      return this.authorize(req, entry, tenant, scopes);
    }
    // Failures count per client address and the token id the secret claims, so a client guessing one
    // token (or unknown ones) is slowed without refusing another token's first request from the same NAT.
    const address = `${req.socket.remoteAddress ?? ''}\0${entry ? entry.id : ''}`;
    const waitMs = this.runtime.limiter.retryAfterMs(address, this.cfg.failureLimit, this.cfg.failureWindowMs);
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      return this.fail('throttled', 'AUTH_THROTTLED', `too many failed authentications from ${req.socket.remoteAddress ?? ''}; retry in ${seconds}s`, { 'retry-after': String(seconds) });
    }
    if (!entry) {
      this.runtime.limiter.fail(address, this.cfg.failureWindowMs);
      return this.fail('unknown_token', 'AUTH_INVALID', 'invalid credentials: unknown or revoked token', this.challenge, tenant);
    }
    return this.runtime.verify(secret, entry, this.cfg.cacheTtlMs).then((ok) => {
      if (ok) {
        this.remember(header, tenant, entry, secret);
        return this.authorize(req, entry, tenant, scopes);
      }
      this.runtime.limiter.fail(address, this.cfg.failureWindowMs);
      return this.fail('wrong_secret', 'AUTH_INVALID', 'invalid credentials: wrong token secret', this.challenge, tenant);
    });
  }

  private remember(header: string, tenant: string, entry: TokenEntry, secret: string): void {
    if (this.known.size >= KNOWN_HEADERS_MAX) this.known.clear();
    this.known.set(header, { tenant, entry, validUntil: this.runtime.verifiedUntil(secret) });
  }

  private authorize(req: IncomingMessage, entry: TokenEntry, tenant: string, scopes: RouteScopes | undefined): AuthResult {
    if (!entry.tenants.includes(tenant)) {
      this.runtime.limiter.fail(`${req.socket.remoteAddress ?? ''}\0${entry.id}`, this.cfg.failureWindowMs);
      return this.fail('wrong_tenant', 'AUTH_INVALID', `invalid credentials: token "${entry.id}" is not for this tenant`, this.challenge, tenant);
    }
    if (entry.expiresAtMs !== undefined && Date.now() >= entry.expiresAtMs) {
      return this.fail('expired', 'AUTH_EXPIRED', `token "${entry.id}" expired at ${new Date(entry.expiresAtMs).toISOString()}; mint a new one`, this.challenge, tenant);
    }
    const scope = needsScope(scopes, req.method);
    if (!entry.scopes.includes(scope)) {
      return this.fail('missing_scope', 'AUTH_SCOPE', `token "${entry.id}" lacks the scope ${scope} this route needs (it has: ${entry.scopes.join(', ') || 'none'})`, {}, tenant);
    }
    this.runtime.metrics.requests.inc({ reason: 'ok' });
    // GEM's label policies restrict metric reads only (not the ruler's or alertmanager's APIs).
    return { ok: true, tenant, tokenId: entry.id, policyHeaders: this.headersFor(entry, tenant, scope === 'metrics:read') };
  }

  /**
   * What GEM's gateway tells the cluster about the request: X-Token-Name, X-Access-Policy-Name and, on
   * reads, one X-Prom-Label-Policy per selector of the tenant (Mimir's labelaccess: one header value
   * per policy, `<tenant>:<url.PathEscape("{matchers}")>`).
   */
  private headersFor(entry: TokenEntry, tenant: string, read: boolean): readonly string[] {
    const key = `${entry.id}\0${tenant}\0${read ? 'r' : 'w'}`;
    let h = this.policyHeaders.get(key);
    if (h === undefined) {
      const out = ['X-Token-Name', entry.id];
      if (entry.accessPolicy !== undefined) out.push('X-Access-Policy-Name', entry.accessPolicy);
      // Selectors were validated when the tokens file loaded and again before the listener was ACKed.
      if (read) for (const sel of entry.labelPolicies?.[tenant] ?? []) out.push('X-Prom-Label-Policy', labelPolicyHeader(tenant, sel));
      h = out;
      this.policyHeaders.set(key, h);
    }
    return h;
  }

  private fail(reason: AuthReason, key: ErrorKey, message: string, headers: Record<string, string> = this.challenge, tenant?: string): AuthResult {
    this.runtime.metrics.requests.inc({ reason });
    // The tenant only at debug: a log line per failure at info would let clients flood the log.
    if (tenant !== undefined && this.runtime.logger.isLevelEnabled('debug')) this.runtime.logger.debug({ reason, tenant }, 'authentication failed');
    return { ok: false, key, reason, message, headers };
  }
}

/** RFC 7617: "Basic" (case-insensitive) + base64("user-id:password"); the user-id has no ":". */
export function parseBasic(header: string): { tenant: string; secret: string } | undefined {
  if (header.length < 7 || header.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  const b64 = header.slice(6).trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return undefined;
  const decoded = Buffer.from(b64, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { tenant: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}
