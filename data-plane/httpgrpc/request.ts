import type { IncomingMessage } from 'node:http';
import { endToEndHeaders } from '../headers.js';
import { allocRequest, type HttpGrpcHeader } from './codec.js';
import { MESSAGE_PREFIX_BYTES } from './grpc-wire.js';

const canonicalCache = new Map<string, string>();
const CANONICAL_CACHE_MAX = 512;

/**
 * Go's textproto.CanonicalMIMEHeaderKey: dskit's server copies Header.key straight into an
 * http.Header map, and Go looks names up canonically (`Header.Get("Content-Type")`), so a lower-case
 * "content-type" would be invisible to Mimir. Names with bytes outside the token set stay unchanged,
 * as in Go. Cached: the same few dozen names arrive on every request.
 */
export function canonicalHeaderKey(name: string): string {
  const cached = canonicalCache.get(name);
  if (cached !== undefined) return cached;
  let out = '';
  let upper = true;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x3a) return name; // space, controls, non-ASCII, ':'
    let ch = name[i]!;
    if (upper && c >= 0x61 && c <= 0x7a) ch = String.fromCharCode(c - 32);
    else if (!upper && c >= 0x41 && c <= 0x5a) ch = String.fromCharCode(c + 32);
    out += ch;
    upper = c === 0x2d; // '-'
  }
  if (canonicalCache.size < CANONICAL_CACHE_MAX) canonicalCache.set(name, out);
  return out;
}

/**
 * End-to-end request headers as httpgrpc Headers: one per name, every value it arrived with, keys in
 * Go canonical form. `host` is left out as Go's http.Request.Header does (it is Request.Host there).
 */
export function requestHeaders(req: IncomingMessage): HttpGrpcHeader[] {
  const out: HttpGrpcHeader[] = [];
  for (const [name, values] of endToEndHeaders(req.headersDistinct)) {
    if (name === 'host' || name.charCodeAt(0) === 0x3a) continue;
    out.push({ key: canonicalHeaderKey(name), values });
  }
  return out;
}

export type BodyResult =
  /** `frame`: the gRPC message, 5-byte prefix then the encoded HTTPRequest of `messageBytes`. */
  | { readonly kind: 'ok'; readonly frame: Buffer; readonly messageBytes: number; readonly bodyLength: number }
  | { readonly kind: 'too_large'; readonly declared: boolean }
  | { readonly kind: 'aborted' };

/** Fill in the Length-Prefixed-Message header (uncompressed) of a frame from allocRequest. */
function framed(frame: Buffer, bodyLength: number): BodyResult {
  const messageBytes = frame.length - MESSAGE_PREFIX_BYTES;
  frame[0] = 0;
  frame.writeUInt32BE(messageBytes, 1);
  return { kind: 'ok', frame, messageBytes, bodyLength };
}

/**
 * Read the request body straight into an encoded HTTPRequest inside a gRPC message (one copy per byte). With a
 * Content-Length the message is allocated up front and a too-large body is refused before a byte of it
 * is read; a chunked body is collected and checked as it arrives.
 */
export function readRequest(
  req: IncomingMessage,
  headers: readonly HttpGrpcHeader[],
  maxBodyBytes: number,
): Promise<BodyResult> {
  const method = req.method ?? 'GET';
  const url = req.url ?? '/';
  const declaredHeader = req.headers['content-length'];
  const declared = declaredHeader === undefined ? NaN : Number(declaredHeader);
  if (declared > maxBodyBytes) return Promise.resolve({ kind: 'too_large', declared: true });

  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: BodyResult): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('close', onAbort);
      resolve(r);
    };
    const onAbort = (): void => finish({ kind: 'aborted' });
    let onData: (chunk: Buffer) => void;
    let onEnd: () => void;

    if (Number.isInteger(declared) && declared >= 0) {
      const { message, bodyOffset } = allocRequest(method, url, headers, declared, MESSAGE_PREFIX_BYTES);
      let pos = bodyOffset;
      onData = (chunk) => {
        message.set(chunk, pos); // Node's parser never delivers more than Content-Length bytes
        pos += chunk.length;
      };
      onEnd = () => {
        if (pos - bodyOffset === declared) finish(framed(message, declared));
        else onAbort();
      };
    } else {
      const chunks: Buffer[] = [];
      let total = 0;
      onData = (chunk) => {
        total += chunk.length;
        if (total > maxBodyBytes) finish({ kind: 'too_large', declared: false });
        else chunks.push(chunk);
      };
      onEnd = () => {
        const { message, bodyOffset } = allocRequest(method, url, headers, total, MESSAGE_PREFIX_BYTES);
        let pos = bodyOffset;
        for (const c of chunks) {
          message.set(c, pos);
          pos += c.length;
        }
        finish(framed(message, total));
      };
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    // 'close' before 'end' is a client that went away mid-body.
    req.on('close', onAbort);
  });
}
