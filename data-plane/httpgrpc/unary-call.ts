// One unary gRPC call on a node:http2 stream (grpc/grpc doc/PROTOCOL-HTTP2.md): request headers, one
// length-prefixed message, then the status from the trailers or from a Trailers-Only response.
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { CallResponse, grpcStatusOf, statusFromReset } from './call-response.js';
import { GrpcStatus } from './grpc-wire.js';

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_NO_ERROR } = http2.constants;

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
  const response = new CallResponse(opts.maxReceiveBytes);
  let failure: CallStatus | undefined;

  const fail = (s: CallStatus, rst = NGHTTP2_CANCEL): void => {
    if (failure !== undefined) return;
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

  const field = (h: IncomingHttpHeaders) => (name: string): string | undefined => {
    const v = h[name];
    return Array.isArray(v) ? v[0] : v;
  };
  stream.on('response', (headers) => {
    const ct = headers['content-type'];
    response.headers(Number(headers[':status']), typeof ct === 'string' ? ct : undefined, grpcStatusOf(field(headers)));
  });
  stream.on('data', (chunk: Buffer) => {
    if (failure !== undefined) return;
    const f = response.data(chunk);
    if (f !== undefined) fail(f);
  });
  stream.on('trailers', (trailers) => response.trailers(grpcStatusOf(field(trailers))));
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
    if (!response.sawHeaders && (rst === NGHTTP2_REFUSED_STREAM || stream.id === undefined || stream.id > on.goawayLastStreamId)) {
      return notSent(rst === NGHTTP2_REFUSED_STREAM ? 'Stream refused by server' : 'stream not processed (GOAWAY or session closed before it was sent)');
    }
    const decided = response.outcome();
    if (decided !== undefined) return decided;
    if (on.session.destroyed || on.session.closed || rst === NGHTTP2_NO_ERROR) {
      const why = streamError?.message ?? '';
      return { code: GrpcStatus.UNAVAILABLE, details: SOCKET_ERROR.test(why) ? why : 'Connection dropped', transport: 'lost' };
    }
    return statusFromReset(rst);
  };

  // One write: prefix, fields and body already sit in one buffer (the body was copied in once).
  stream.end(opts.frame);
}
