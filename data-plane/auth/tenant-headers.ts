// After authentication the tenant comes from the credentials, never from the client: every
// X-Scope-OrgID and the Authorization header are removed and one X-Scope-OrgID is set. Done on the
// request itself before it is handed to an upstream, so the HTTP proxy (rawHeaders) and the httpgrpc
// proxy (headersDistinct) forward the same headers whatever their implementation reads.

import type { IncomingMessage } from 'node:http';

const REMOVED = new Set(['authorization', 'x-scope-orgid']);

export function setAuthenticatedTenant(req: IncomingMessage, tenant: string): void {
  const raw = req.rawHeaders;
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // Both names are 13 characters long: skip the lower-casing for every other header.
    if (name.length === 13 && REMOVED.has(name.toLowerCase())) continue;
    out.push(name, raw[i + 1]!);
  }
  out.push('X-Scope-OrgID', tenant);
  req.rawHeaders = out;
  // Node derives `headers` and `headersDistinct` from rawHeaders once, on first access, counting the
  // entries the parser saw: both must be set, or a later first access would read the old list.
  const headers = req.headers;
  delete headers.authorization;
  headers['x-scope-orgid'] = tenant;
  const distinct: Record<string, string[]> = {};
  for (let i = 0; i < out.length; i += 2) (distinct[out[i]!.toLowerCase()] ??= []).push(out[i + 1]!);
  req.headersDistinct = distinct;
}
