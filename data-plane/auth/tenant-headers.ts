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
  if (count === 1) {
    // The common case, one Authorization and nothing else of these: its pair is overwritten in place
    // and the gateway's pairs appended, no copy of the list. Node's lazy headersDistinct getter reads
    // only as many entries as the parser counted, so it is replaced by one that reads them all, run
    // only if something asks (the httpgrpc path; the HTTP path reads rawHeaders).
    // Measured: a rebuild of the list was the largest part of the auth cost per request (BENCHMARKS.md).
    delete headers[raw[found]!.toLowerCase()];
    headers['x-scope-orgid'] = tenant;
    raw[found] = 'X-Scope-OrgID';
    raw[found + 1] = tenant;
    for (let i = 0; i < extra.length; i += 2) {
      raw.push(extra[i]!, extra[i + 1]!);
      addHeader(headers, extra[i]!.toLowerCase(), extra[i + 1]!);
    }
    Object.defineProperty(req, 'headersDistinct', LAZY_DISTINCT);
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
    addHeader(headers, extra[i]!.toLowerCase(), extra[i + 1]!);
    out.push(extra[i]!, extra[i + 1]!);
  }
  req.rawHeaders = out;
  // Node derives `headers` and `headersDistinct` from rawHeaders once, on first access, counting the
  // entries the parser saw: with a list of another length both must be right, or a later first access
  // would read the wrong entries.
  Object.defineProperty(req, 'headersDistinct', LAZY_DISTINCT);
}

/** As node:http joins a repeated field in `headers`: with ", ". */
function addHeader(headers: IncomingMessage['headers'], lower: string, value: string): void {
  const prev = headers[lower];
  headers[lower] = prev === undefined ? value : `${String(prev)}, ${value}`;
}

/** headersDistinct from the whole of rawHeaders, computed on first access and kept. */
const LAZY_DISTINCT: PropertyDescriptor = {
  configurable: true,
  enumerable: true,
  get(this: IncomingMessage): NodeJS.Dict<string[]> {
    const raw = this.rawHeaders;
    const distinct: Record<string, string[]> = {};
    for (let i = 0; i < raw.length; i += 2) (distinct[raw[i]!.toLowerCase()] ??= []).push(raw[i + 1]!);
    Object.defineProperty(this, 'headersDistinct', { configurable: true, enumerable: true, writable: true, value: distinct });
    return distinct;
  },
  set(this: IncomingMessage, value: NodeJS.Dict<string[]>): void {
    Object.defineProperty(this, 'headersDistinct', { configurable: true, enumerable: true, writable: true, value });
  },
};
