// One unary gRPC call on an HTTP/2 stream (grpc/grpc doc/PROTOCOL-HTTP2.md): request headers, one
// length-prefixed message, then the status from the trailers or from a Trailers-Only response.
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { GrpcStatus, MESSAGE_PREFIX_BYTES, percentDecode, statusFromHttp } from './grpc-wire.js';

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_NO_ERROR } = http2.constants;

/** How a call ended, as the HTTP/2 stream and the gRPC status tell it. */
export interface CallStatus {
  readonly code: number;
  readonly details: string;
  /** grpc-status-details-bin, decoded from base64 (a google.rpc.Status). */
  readonly detailsBin?: Buffer;
  /** The one response message (status OK), a view into what was received. */
  readonly message?: Buffer;
  /**
   * Set when the failure is the transport's: `not_sent` = the call never reached the backend
   * (retried elsewhere); `lost` = the connection died with the call on it (the backend may have acted).
   */
  readonly transport?: 'not_sent' | 'lost';
}

/**
 * The HTTP client went away: a one-listener stand-in for AbortSignal. A request waits for a pick or
 * runs one call, never both, so one slot is enough; an AbortController and its EventTarget listeners
 * per request showed in CPU profiles of this path.
 */
export class ClientGone {
  aborted = false;
  onAbort: (() => void) | undefined;

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const f = this.onAbort;
    this.onAbort = undefined;
    f?.();
  }
}

/** What the call needs from the session it runs on. */
export interface CallSession {
  readonly session: ClientHttp2Session;
  /** Last-Stream-ID of a GOAWAY received on this session; streams above it were never processed. */
  goawayLastStreamId: number;
}

export interface CallOptions {
  readonly headers: OutgoingHttpHeaders;
  /** The whole gRPC message: 5-byte prefix and encoded HTTPRequest. */
  readonly frame: Buffer;
  readonly deadline: number;
  readonly maxReceiveBytes: number;
  readonly signal?: ClientGone;
}

/** Socket errors worth naming (as grpc-js did): "read ECONNRESET", a keepalive that went unanswered. */
const SOCKET_ERROR = /^((read|write) E[A-Z]+|keepalive ping not answered)$/;

const notSent = (details: string): CallStatus => ({ code: GrpcStatus.UNAVAILABLE, details, transport: 'not_sent' });

/** Start a call; `done` is called exactly once. */
export function unaryCall(on: CallSession, opts: CallOptions, done: (s: CallStatus) => void): void {
  let stream: ClientHttp2Stream;
  try {
    // Throws when the session is closing (GOAWAY received, close() called) or destroyed.
    stream = on.session.request(opts.headers, { endStream: false });
  } catch (err) {
    done(notSent(`session closed before the stream was sent (${(err as Error).message})`));
    return;
  }
  let result: CallStatus | undefined;
  let httpStatus = 0;
  let grpcContentType = false;
  // Response message reassembly: prefix first, then exactly `length` bytes.
  let prefix: Buffer | undefined;
  let body: Buffer | undefined;
  let filled = 0;
  let messages = 0;
  let failure: CallStatus | undefined;
  let sawHeaders = false;

  const fail = (s: CallStatus, rst = NGHTTP2_CANCEL): void => {
    if (failure !== undefined || result !== undefined) return;
    failure = s;
    if (!stream.closed && !stream.destroyed) stream.close(rst);
  };
  const remaining = opts.deadline - Date.now();
  const started = Date.now();
  const timer = setTimeout(
    () => fail({ code: GrpcStatus.DEADLINE_EXCEEDED, details: `Deadline exceeded after ${((Date.now() - started) / 1000).toFixed(3)}s` }),
    Math.max(0, remaining),
  );
  timer.unref();
  const onAbort = (): void => fail({ code: GrpcStatus.CANCELLED, details: 'Cancelled on client' });
  if (opts.signal) opts.signal.onAbort = onAbort;

  const statusFrom = (h: IncomingHttpHeaders): CallStatus | undefined => {
    const raw = h['grpc-status'];
    if (raw === undefined) return undefined;
    const code = Number(raw);
    const msg = h['grpc-message'];
    const bin = h['grpc-status-details-bin'];
    const binText = Array.isArray(bin) ? bin[0] : bin;
    return {
      code: Number.isInteger(code) ? code : GrpcStatus.UNKNOWN,
      details: typeof msg === 'string' ? percentDecode(msg) : '',
      ...(binText !== undefined ? { detailsBin: Buffer.from(binText, 'base64') } : {}),
    };
  };

  stream.on('response', (headers) => {
    sawHeaders = true;
    httpStatus = Number(headers[':status']);
    const ct = headers['content-type'];
    grpcContentType = typeof ct === 'string' && ct.startsWith('application/grpc');
    // Trailers-Only: HEADERS with END_STREAM carrying the status, no message.
    const s = statusFrom(headers);
    if (s !== undefined) result = s;
  });
  stream.on('data', (chunk: Buffer) => {
    let pos = 0;
    while (pos < chunk.length && failure === undefined) {
      if (body === undefined) {
        const need = MESSAGE_PREFIX_BYTES - (prefix?.length ?? 0);
        const part = chunk.subarray(pos, pos + need);
        prefix = prefix === undefined ? part : Buffer.concat([prefix, part]);
        pos += part.length;
        if (prefix.length < MESSAGE_PREFIX_BYTES) return;
        if (prefix[0] !== 0) return fail({ code: GrpcStatus.INTERNAL, details: 'compressed response message, but no grpc-encoding was offered' });
        const length = prefix.readUInt32BE(1);
        if (length > opts.maxReceiveBytes) {
          return fail({ code: GrpcStatus.RESOURCE_EXHAUSTED, details: `Received message larger than max (${length} vs ${opts.maxReceiveBytes})` });
        }
        if (++messages > 1) return fail({ code: GrpcStatus.INTERNAL, details: 'more than one response message in a unary call' });
        // Zero-copy when the whole message is in this chunk (the common case): a view, not a copy.
        if (chunk.length - pos >= length) {
          body = chunk.subarray(pos, pos + length);
          filled = length;
          pos += length;
        } else {
          body = Buffer.allocUnsafe(length);
          filled = 0;
        }
        prefix = undefined;
        continue;
      }
      const n = Math.min(body.length - filled, chunk.length - pos);
      chunk.copy(body, filled, pos, pos + n);
      filled += n;
      pos += n;
    }
  });
  stream.on('trailers', (trailers) => {
    const s = statusFrom(trailers);
    if (s !== undefined) result = s;
  });
  // The outcome is read in 'close'; a socket error (a TCP reset) names what happened to the connection.
  let streamError: Error | undefined;
  stream.on('error', (e: Error) => (streamError = e));

  stream.on('close', () => {
    clearTimeout(timer);
    if (opts.signal?.onAbort === onAbort) opts.signal.onAbort = undefined;
    done(finish());
  });

  const finish = (): CallStatus => {
    if (failure !== undefined) return failure;
    const rst = stream.rstCode ?? NGHTTP2_NO_ERROR;
    // RFC 9113 8.7: REFUSED_STREAM = not processed; 6.8: streams above a GOAWAY's last-stream-id were
    // not processed either (nghttp2 closes them with REFUSED_STREAM; the id check covers the rest).
    // A stream that never got an id never left this process.
    if (!sawHeaders && (rst === NGHTTP2_REFUSED_STREAM || stream.id === undefined || stream.id > on.goawayLastStreamId)) {
      return notSent(rst === NGHTTP2_REFUSED_STREAM ? 'Stream refused by server' : 'stream not processed (GOAWAY or session closed before it was sent)');
    }
    if (result !== undefined) {
      if (result.code !== GrpcStatus.OK) return result;
      if (body === undefined || filled < body.length) return { code: GrpcStatus.INTERNAL, details: 'no complete response message with status OK' };
      return { code: GrpcStatus.OK, details: '', message: body };
    }
    if (sawHeaders && (httpStatus !== 200 || !grpcContentType)) {
      return { code: statusFromHttp(httpStatus), details: `Received HTTP status code ${httpStatus} without a gRPC status` };
    }
    if (on.session.destroyed || on.session.closed || rst === NGHTTP2_NO_ERROR) {
      const why = streamError?.message ?? '';
      return { code: GrpcStatus.UNAVAILABLE, details: SOCKET_ERROR.test(why) ? why : 'Connection dropped', transport: 'lost' };
    }
    if (rst === NGHTTP2_ENHANCE_YOUR_CALM) return { code: GrpcStatus.RESOURCE_EXHAUSTED, details: 'Bandwidth exhausted (ENHANCE_YOUR_CALM)' };
    if (rst === NGHTTP2_CANCEL) return { code: GrpcStatus.CANCELLED, details: 'Stream cancelled by server' };
    return { code: GrpcStatus.INTERNAL, details: `Stream reset by server with code ${rst}` };
  };

  // One write: prefix, fields and body already sit in one buffer (the body was copied in once).
  stream.end(opts.frame);
}
