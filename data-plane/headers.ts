// RFC 9110 section 7.6.1: connection-specific header fields are not forwarded, nor any field
// the Connection header names. `proxy-connection` and `keep-alive` are legacy, still sent by clients.
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Lower-case names the message's own Connection header lists (RFC 9110 7.6.1). */
export function connectionListed(connection: string | string[] | undefined): ReadonlySet<string> | undefined {
  if (connection === undefined) return undefined;
  const raw = Array.isArray(connection) ? connection.join(',') : connection;
  const names = new Set<string>();
  for (const part of raw.split(',')) {
    const name = part.trim().toLowerCase();
    if (name !== '') names.add(name);
  }
  return names.size > 0 ? names : undefined;
}

/** True when `name` (lower case) must not be forwarded. */
export function isHopByHop(name: string, listed: ReadonlySet<string> | undefined): boolean {
  return HOP_BY_HOP.has(name) || (listed !== undefined && listed.has(name));
}

/**
 * End-to-end headers of an incoming message as [lower-case name, values] pairs, one entry per name
 * with every value it arrived with. Pass `req.headersDistinct`: unlike `req.headers` it neither joins
 * repeated fields with ", " nor drops repeats of single-value fields.
 */
export function endToEndHeaders(headers: NodeJS.Dict<string[]>): Array<[string, string[]]> {
  const listed = connectionListed(headers.connection);
  const out: Array<[string, string[]]> = [];
  for (const name in headers) {
    if (isHopByHop(name, listed)) continue;
    const values = headers[name];
    if (values === undefined) continue;
    out.push([name, values]);
  }
  return out;
}
