import { status, type ServiceError } from '@grpc/grpc-js';
import type { ErrorKey } from '../../core/errors.js';
import { decodeStatusResponse, type HttpGrpcResponseMessage } from './codec.js';
import type { HttpGrpcErrorReason } from './metrics.js';

/** What one failed httpgrpc call means for the HTTP request behind it. */
export type CallOutcome =
  /** The backend's own HTTP answer (dskit carries 4xx/5xx as gRPC errors with the response inside). */
  | { readonly kind: 'response'; readonly response: HttpGrpcResponseMessage }
  /** The call never reached the backend: safe to send to another endpoint. */
  | { readonly kind: 'retry'; readonly detail: string }
  | { readonly kind: 'error'; readonly key: ErrorKey; readonly reason: HttpGrpcErrorReason; readonly detail: string };

const DETAILS_KEY = 'grpc-status-details-bin';

/**
 * "Never reached a backend", the only condition under which a call is retried on another endpoint.
 * grpc-js knows this as the call's progress (NOT_STARTED / REFUSED / PROCESSED) but strips it before
 * the status reaches us (retrying-call.ts reportStatus), so the rule is read from the status details
 * grpc-js 1.14 itself generates for those cases:
 *  - "No connection established. Last error: ..." (also "round_robin: No connection ..."): the pick
 *    failed because the channel is in TRANSIENT_FAILURE; nothing was written (load-balancer-pick-first.ts).
 *  - "Stream refused by server": RST_STREAM(REFUSED_STREAM), which guarantees no application processing
 *    (RFC 9113 section 8.7); nghttp2 also closes streams above a GOAWAY's last-stream-id with it
 *    (section 6.8). grpc-js has already retried it once on the same channel (transparent retry, gRFC A6).
 * Everything else, notably "Connection dropped" (socket closed with the stream open), may have been
 * processed by the backend and is never retried: a remote-write sent twice is ingested twice. Calls
 * that grpc-js could not even start ("Failed to start HTTP/2 stream") it retries itself.
 */
export function neverReachedBackend(err: ServiceError): boolean {
  if (err.code !== status.UNAVAILABLE) return false;
  const d = err.details;
  return d.startsWith('No connection established') || d.startsWith('round_robin: No connection established') || d === 'Stream refused by server';
}

/**
 * Details grpc-js writes when the connection died with the call in flight. A socket error (a TCP
 * reset, a keepalive timeout) comes through as the error's own message (subchannel-call.js, the
 * ECONNRESET/ETIMEDOUT branch): "read ECONNRESET".
 */
function connectionLost(details: string): boolean {
  return (
    details === 'Connection dropped' ||
    details.startsWith('Write error') ||
    details.startsWith('Write failed') ||
    /^(read|write) (ECONNRESET|ETIMEDOUT|EPIPE)$/.test(details)
  );
}

/**
 * grpc-js words an oversized message the same on both sides ("Received message larger than max (N vs
 * LIMIT)"; grpc-go: "grpc: received message larger than max (N vs. LIMIT)"). N is the request's size
 * when the backend refused it; any other N is the backend's response, which the gateway refused: that
 * is a bad answer from the backend (502), not a request the client must make smaller (413).
 */
function responseTooLarge(details: string, sentBytes: number | undefined): string | undefined {
  const m = /larger than max \((\d+) vs\.? (\d+)\)/.exec(details);
  if (!m || sentBytes === undefined || Number(m[1]) === sentBytes) return undefined;
  return `response of ${m[1]} bytes exceeds the ${m[2]}-byte gRPC message limit (-gateway.grpc-max-message-bytes)`;
}

/** `sentBytes`: size of the encoded HTTPRequest, to tell a refused request from a refused response. */
export function classifyError(err: ServiceError, sentBytes?: number): CallOutcome {
  const detailsBin = err.metadata?.get(DETAILS_KEY)[0];
  if (detailsBin instanceof Buffer) {
    try {
      const response = decodeStatusResponse(detailsBin);
      if (response !== undefined) return { kind: 'response', response };
    } catch {
      // Not a dskit status: fall through to the gRPC code.
    }
  }
  // gRPC codes stop at 16; anything in the HTTP range is an httpgrpc server that sent the HTTP code
  // as the status without details (dskit's contract, minus the details).
  if (err.code >= 200 && err.code <= 599) {
    return { kind: 'response', response: { code: err.code, headers: [], body: Buffer.from(err.details ? `${err.details}\n` : '', 'utf8') } };
  }
  if (neverReachedBackend(err)) return { kind: 'retry', detail: err.details };
  switch (err.code) {
    case status.UNAVAILABLE:
      return connectionLost(err.details)
        ? { kind: 'error', key: 'UPSTREAM_REFUSED', reason: 'failed', detail: `connection lost mid-request (${err.details}); not retried, the backend may have processed it` }
        : { kind: 'error', key: 'UPSTREAM_UNAVAILABLE', reason: 'failed', detail: `backend answered UNAVAILABLE: ${err.details}` };
    case status.DEADLINE_EXCEEDED:
      return { kind: 'error', key: 'UPSTREAM_TIMEOUT', reason: 'timeout', detail: err.details };
    case status.RESOURCE_EXHAUSTED: {
      const tooLarge = responseTooLarge(err.details, sentBytes);
      if (tooLarge !== undefined) return { kind: 'error', key: 'UPSTREAM_FAILED', reason: 'too_large', detail: tooLarge };
      if (/larger than max/.test(err.details)) return { kind: 'error', key: 'UPSTREAM_TOO_LARGE', reason: 'too_large', detail: err.details };
      // The same code means quota or overload in gRPC. A 4xx would make Prometheus drop the batch,
      // so anything that is not about the message size is a retryable 503.
      return { kind: 'error', key: 'UPSTREAM_UNAVAILABLE', reason: 'failed', detail: `backend resources exhausted: ${err.details}` };
    }
    case status.CANCELLED:
      return { kind: 'error', key: 'UPSTREAM_FAILED', reason: 'cancelled', detail: err.details };
    default:
      return { kind: 'error', key: 'UPSTREAM_FAILED', reason: 'failed', detail: `gRPC ${status[err.code] ?? err.code}: ${err.details}` };
  }
}
