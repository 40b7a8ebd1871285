import type { ServerResponse } from 'node:http';
import { connectionListed, isHopByHop } from '../headers.js';
import type { HttpGrpcResponseMessage } from './codec.js';

/**
 * Write an httpgrpc HTTPResponse as the HTTP response: exact status, every header value, the body.
 * Content-Length is recomputed from the body actually received and hop-by-hop fields are dropped
 * (RFC 9110 7.6.1); HEAD, 1xx, 204 and 304 carry no body (RFC 9110 6.4.1), so the backend's
 * Content-Length stays for them. False when the status or a header cannot be sent.
 */
export function writeHttpResponse(res: ServerResponse, method: string, r: HttpGrpcResponseMessage): boolean {
  const code = r.code;
  if (!Number.isInteger(code) || code < 200 || code > 999) return false;
  const noBody = method === 'HEAD' || code === 204 || code === 304;
  let listed: ReadonlySet<string> | undefined;
  for (const h of r.headers) {
    if (h.key.length === 10 && h.key.toLowerCase() === 'connection') listed = connectionListed([...h.values]);
  }
  const flat: string[] = [];
  for (const h of r.headers) {
    const name = h.key.toLowerCase();
    if (isHopByHop(name, listed) || (name === 'content-length' && !noBody)) continue;
    for (const v of h.values) flat.push(h.key, v);
  }
  if (!noBody) flat.push('Content-Length', String(r.body.length));
  try {
    res.writeHead(code, flat);
  } catch {
    // Invalid header name/value from the backend (ERR_INVALID_CHAR etc.): nothing was sent yet.
    return false;
  }
  res.end(noBody ? undefined : r.body);
  return true;
}
