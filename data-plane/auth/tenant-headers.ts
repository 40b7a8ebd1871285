// After authentication the tenant comes from the credentials, never from the client: every
// X-Scope-OrgID and the Authorization header are removed and one X-Scope-OrgID is set. Done on the
// request itself before it is handed to an upstream, so the HTTP proxy (rawHeaders) and the httpgrpc
// proxy (headersDistinct) forward the same headers whatever their implementation reads.

import type { IncomingMessage } from 'node:http';

const REMOVED = new Set(['authorization', 'x-scope-orgid']);

export function setAuthenticatedTenant(req: IncomingMessage, tenant: string): void {
  const raw = req.rawHeaders;
  let found = -1;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // Both names are 13 characters long: skip the lower-casing for every other header.
    if (name.length === 13 && REMOVED.has(name.toLowerCase())) {
      found = i;
      count++;
    }
  }
  const headers = req.headers;
  delete headers.authorization;
  headers['x-scope-orgid'] = tenant;
  if (count === 1) {
    // The common case (one Authorization, no client tenant): the pair is overwritten in place, so the
    // list keeps the length the parser counted and Node's lazy headersDistinct getter stays right.
    // Resetting it makes a value computed earlier recompute; the HTTP path never computes it at all.
    // Measured: the rebuild below was the largest part of the auth cost per request (BENCHMARKS.md).
    raw[found] = 'X-Scope-OrgID';
    raw[found + 1] = tenant;
    (req as { headersDistinct: unknown }).headersDistinct = undefined;
    return;
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 13 && REMOVED.has(name.toLowerCase())) continue;
    out.push(name, raw[i + 1]!);
  }
  out.push('X-Scope-OrgID', tenant);
  req.rawHeaders = out;
  // Node derives `headers` and `headersDistinct` from rawHeaders once, on first access, counting the
  // entries the parser saw: with a list of another length both must be set, or a later first access
  // would read the wrong entries.
  const distinct: Record<string, string[]> = {};
  for (let i = 0; i < out.length; i += 2) (distinct[out[i]!.toLowerCase()] ??= []).push(out[i + 1]!);
  req.headersDistinct = distinct;
}
