// After authentication the tenant comes from the credentials, never from the client: every
// X-Scope-OrgID and the Authorization header are removed and one X-Scope-OrgID is set. Done on the
// request itself before it is handed to an upstream, so the HTTP proxy (rawHeaders) and the httpgrpc
// proxy (headersDistinct) forward the same headers whatever their implementation reads.

import type { IncomingMessage } from 'node:http';

const SINGLE: ReadonlySet<string> = new Set([
  'age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host', 'if-modified-since',
  'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'referer', 'retry-after',
  'server', 'user-agent',
]);

export function setAuthenticatedTenant(req: IncomingMessage, tenant: string): void {
  const raw = req.rawHeaders;
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.length === 13 || name.length === 14 ? name.toLowerCase() : '';
    if (lower === 'authorization' || lower === 'x-scope-orgid') continue;
    out.push(name, raw[i + 1]!);
  }
  out.push('X-Scope-OrgID', tenant);
  req.rawHeaders = out;
  // Node derives `headers` and `headersDistinct` from rawHeaders once, on first access; set both so
  // neither keeps a stale copy.
  const headers: Record<string, string | string[]> = {};
  const distinct: Record<string, string[]> = {};
  for (let i = 0; i < out.length; i += 2) {
    const name = out[i]!.toLowerCase();
    const value = out[i + 1]!;
    (distinct[name] ??= []).push(value);
  }
  for (const [name, values] of Object.entries(distinct)) {
    // Node's rules for `headers` (IncomingMessage._addHeaderLine): set-cookie stays a list, repeats
    // of single-value fields are dropped, cookie joins with "; ", the rest with ", ".
    headers[name] = name === 'set-cookie' ? values : SINGLE.has(name) ? values[0]! : values.join(name === 'cookie' ? '; ' : ', ');
  }
  req.headers = headers as IncomingMessage['headers'];
  req.headersDistinct = distinct;
}
