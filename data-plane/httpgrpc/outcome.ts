import type { ErrorKey } from '../../core/errors.js';
import { decodeStatusResponse, type HttpGrpcResponseMessage } from './codec.js';
import { GrpcStatus, statusName } from './grpc-wire.js';
import type { HttpGrpcErrorReason } from './metrics.js';
import type { CallStatus } from './unary-call.js';

/** What one failed httpgrpc call means for the HTTP request behind it. */
export type CallOutcome =
  /** The backend's own HTTP answer (dskit carries 4xx/5xx as gRPC errors with the response inside). */
  | { readonly kind: 'response'; readonly response: HttpGrpcResponseMessage }
  /** The call never reached the backend: safe to send to another endpoint. */
  | { readonly kind: 'retry'; readonly detail: string }
  | { readonly kind: 'error'; readonly key: ErrorKey; readonly reason: HttpGrpcErrorReason; readonly detail: string };

/**
 * An oversized message is worded the same on both sides (this client and grpc-js: "Received message
 * larger than max (N vs LIMIT)"; grpc-go: "grpc: received message larger than max (N vs. LIMIT)"). N is the request's size
 * when the backend refused it; any other N is the backend's response, which the gateway refused: that
 * is a bad answer from the backend (502), not a request the client must make smaller (413).
 */
function responseTooLarge(details: string, sentBytes: number | undefined): string | undefined {
  const m = /larger than max \((\d+) vs\.? (\d+)\)/.exec(details);
  if (!m || sentBytes === undefined || Number(m[1]) === sentBytes) return undefined;
  return `response of ${m[1]} bytes exceeds the ${m[2]}-byte gRPC message limit (-gateway.grpc-max-message-bytes)`;
}

/**
 * A call that did not end with status OK. `sentBytes`: size of the encoded HTTPRequest, to tell a
 * refused request from a refused response. Whether it may be retried is read from HTTP/2 itself
 * (unary-call.ts sets `transport: 'not_sent'` for connect failures, REFUSED_STREAM, streams above a
 * GOAWAY's last-stream-id and streams that never left this process); nothing else is retried, since a
 * remote-write sent twice is ingested twice.
 */
export function classifyError(err: CallStatus, sentBytes?: number): CallOutcome {
  const detailsBin = err.detailsBin;
  if (detailsBin !== undefined) {
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
  if (err.transport === 'not_sent') return { kind: 'retry', detail: err.details };
  switch (err.code) {
    case GrpcStatus.UNAVAILABLE:
      return err.transport === 'lost'
        ? { kind: 'error', key: 'UPSTREAM_REFUSED', reason: 'failed', detail: `connection lost mid-request (${err.details}); not retried, the backend may have processed it` }
        : { kind: 'error', key: 'UPSTREAM_UNAVAILABLE', reason: 'failed', detail: `backend answered UNAVAILABLE: ${err.details}` };
    case GrpcStatus.DEADLINE_EXCEEDED:
      return { kind: 'error', key: 'UPSTREAM_TIMEOUT', reason: 'timeout', detail: err.details };
    case GrpcStatus.RESOURCE_EXHAUSTED: {
      const tooLarge = responseTooLarge(err.details, sentBytes);
      if (tooLarge !== undefined) return { kind: 'error', key: 'UPSTREAM_FAILED', reason: 'too_large', detail: tooLarge };
      if (/larger than max/.test(err.details)) return { kind: 'error', key: 'UPSTREAM_TOO_LARGE', reason: 'too_large', detail: err.details };
      // The same code means quota or overload in gRPC. A 4xx would make Prometheus drop the batch,
      // so anything that is not about the message size is a retryable 503.
      return { kind: 'error', key: 'UPSTREAM_UNAVAILABLE', reason: 'failed', detail: `backend resources exhausted: ${err.details}` };
    }
    case GrpcStatus.CANCELLED:
      return { kind: 'error', key: 'UPSTREAM_FAILED', reason: 'cancelled', detail: err.details };
    default:
      return { kind: 'error', key: 'UPSTREAM_FAILED', reason: 'failed', detail: `gRPC ${statusName(err.code)}: ${err.details}` };
  }
}
