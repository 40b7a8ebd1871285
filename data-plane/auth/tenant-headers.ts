// After authentication the tenant and the access policy come from the credentials, never from the
// client: every X-Scope-OrgID, the Authorization header and any access-policy header the client sent
// (X-Access-Policy-Name, X-Token-Name, X-Prom-Label-Policy: a client that could set them would choose
// its own label policy) are removed, and the gateway's are set. Done on the request itself before it
// is handed to an upstream, so the HTTP proxy (rawHeaders) and the httpgrpc proxy (headersDistinct)
// forward the same headers whatever their implementation reads.

import type { IncomingMessage } from 'node:http';

const REMOVED = new Set(['authorization', 'x-scope-orgid', 'x-access-policy-name', 'x-token-name', 'x-prom-label-policy']);
/** The lengths of the REMOVED names: every other header skips the lower-casing. */
const REMOVED_LENGTHS = new Set([...REMOVED].map((n) => n.length));

/**
 * Sets the tenant and `extra` ([name, value, ...] pairs, canonical case, names among REMOVED) on the
 * request, dropping what the client sent under those names.
 */
export function setAuthenticatedTenant(req: IncomingMessage, tenant: string, extra: readonly string[] = []): void {
  const raw = req.rawHeaders;
  let found = -1;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (REMOVED_LENGTHS.has(name.length) && REMOVED.has(name.toLowerCase())) {
      found = i;
      count++;
    }
  }
  const headers = req.headers;
  if (count === 1 && extra.length === 0) {
    // One Authorization, no client tenant, nothing to add: the pair is overwritten in place, so the
    // list keeps the length the parser counted and Node's lazy headersDistinct getter stays right.
    // Resetting it makes a value computed earlier recompute; the HTTP path never computes it at all.
    // Measured: the rebuild below was the largest part of the auth cost per request (BENCHMARKS.md).
    delete headers.authorization;
    headers['x-scope-orgid'] = tenant;
    raw[found] = 'X-Scope-OrgID';
    raw[found + 1] = tenant;
    (req as { headersDistinct: unknown }).headersDistinct = undefined;
    return;
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (REMOVED_LENGTHS.has(name.length) && REMOVED.has(name.toLowerCase())) continue;
    out.push(name, raw[i + 1]!);
  }
  for (const n of REMOVED) delete headers[n];
  out.push('X-Scope-OrgID', tenant);
  headers['x-scope-orgid'] = tenant;
  for (let i = 0; i < extra.length; i += 2) {
    const lower = extra[i]!.toLowerCase();
    const prev = headers[lower];
    headers[lower] = prev === undefined ? extra[i + 1]! : `${String(prev)}, ${extra[i + 1]!}`;
    out.push(extra[i]!, extra[i + 1]!);
  }
  req.rawHeaders = out;
  // Node derives `headers` and `headersDistinct` from rawHeaders once, on first access, counting the
  // entries the parser saw: with a list of another length both must be set, or a later first access
  // would read the wrong entries.
  const distinct: Record<string, string[]> = {};
  for (let i = 0; i < out.length; i += 2) (distinct[out[i]!.toLowerCase()] ??= []).push(out[i + 1]!);
  req.headersDistinct = distinct;
}
