// What a unary call's response says, whichever HTTP/2 client carried it (grpc/grpc
// doc/PROTOCOL-HTTP2.md "Responses"): Response-Headers then one Length-Prefixed-Message then
// Trailers, or Trailers-Only; the status from grpc-status / grpc-message / grpc-status-details-bin,
// or from the HTTP status when a non-gRPC peer answered (doc/http-grpc-status-mapping.md).
import { GrpcStatus, MESSAGE_PREFIX_BYTES, percentDecode, statusFromHttp } from './grpc-wire.js';
import type { CallStatus } from './unary-call.js';

const RST_CANCEL = 0x8;
const RST_ENHANCE_YOUR_CALM = 0xb;

/** The gRPC status a header or trailer block carries; `get` reads one field by lower-case name. */
export function grpcStatusOf(get: (name: string) => string | undefined): CallStatus | undefined {
  const raw = get('grpc-status');
  if (raw === undefined) return undefined;
  const code = Number(raw);
  const msg = get('grpc-message');
  const bin = get('grpc-status-details-bin');
  return {
    code: Number.isInteger(code) ? code : GrpcStatus.UNKNOWN,
    details: msg !== undefined ? percentDecode(msg) : '',
    ...(bin !== undefined ? { detailsBin: Buffer.from(bin, 'base64') } : {}),
  };
}

/** A stream the server reset (RFC 9113 6.4) without a gRPC status (PROTOCOL-HTTP2.md "Errors"). */
export function statusFromReset(code: number): CallStatus {
  if (code === RST_ENHANCE_YOUR_CALM) return { code: GrpcStatus.RESOURCE_EXHAUSTED, details: 'Bandwidth exhausted (ENHANCE_YOUR_CALM)' };
  if (code === RST_CANCEL) return { code: GrpcStatus.CANCELLED, details: 'Stream cancelled by server' };
  return { code: GrpcStatus.INTERNAL, details: `Stream reset by server with code ${code}` };
}

/** Collects one response: headers, the one message (reassembled from DATA), the status. */
export class CallResponse {
  sawHeaders = false;
  private httpStatus = 0;
  private grpcContentType = false;
  private status: CallStatus | undefined;
  /** Set when the message broke a rule: the call ends with it, whatever follows. */
  failure: CallStatus | undefined;
  private prefix: Buffer | undefined;
  private body: Buffer | undefined;
  private filled = 0;
  private messages = 0;

  constructor(private readonly maxReceiveBytes: number) {}

  /** Response-Headers, or Trailers-Only when they carry grpc-status. */
  headers(httpStatus: number, contentType: string | undefined, status: CallStatus | undefined): void {
    this.sawHeaders = true;
    this.httpStatus = httpStatus;
    this.grpcContentType = contentType !== undefined && contentType.startsWith('application/grpc');
    if (status !== undefined) this.status = status;
  }

  trailers(status: CallStatus | undefined): void {
    if (status !== undefined) this.status = status;
  }

  /** DATA payload; returns the failure when the message breaks a rule (the caller resets the stream). */
  data(chunk: Buffer): CallStatus | undefined {
    let pos = 0;
    while (pos < chunk.length && this.failure === undefined) {
      // A complete message followed by more bytes starts another prefix (and fails: unary). Testing
      // only `body === undefined` looped forever on a 0-byte message followed by data (found by fuzz).
      if (this.body === undefined || this.filled === this.body.length) {
        const need = MESSAGE_PREFIX_BYTES - (this.prefix?.length ?? 0);
        const part = chunk.subarray(pos, pos + need);
        this.prefix = this.prefix === undefined ? part : Buffer.concat([this.prefix, part]);
        pos += part.length;
        if (this.prefix.length < MESSAGE_PREFIX_BYTES) break;
        if (this.prefix[0] !== 0) return this.fail({ code: GrpcStatus.INTERNAL, details: 'compressed response message, but no grpc-encoding was offered' });
        const length = this.prefix.readUInt32BE(1);
        if (length > this.maxReceiveBytes) {
          return this.fail({ code: GrpcStatus.RESOURCE_EXHAUSTED, details: `Received message larger than max (${length} vs ${this.maxReceiveBytes})` });
        }
        if (++this.messages > 1) return this.fail({ code: GrpcStatus.INTERNAL, details: 'more than one response message in a unary call' });
        // Zero-copy when the whole message is in this chunk (the common case): a view, not a copy.
        if (chunk.length - pos >= length) {
          this.body = chunk.subarray(pos, pos + length);
          this.filled = length;
          pos += length;
        } else {
          this.body = Buffer.allocUnsafe(length);
          this.filled = 0;
        }
        this.prefix = undefined;
        continue;
      }
      const n = Math.min(this.body.length - this.filled, chunk.length - pos);
      chunk.copy(this.body, this.filled, pos, pos + n);
      this.filled += n;
      pos += n;
    }
    return this.failure;
  }

  private fail(s: CallStatus): CallStatus {
    this.failure ??= s;
    return this.failure;
  }

  /** The outcome the response itself decides, or undefined when it says nothing (then the transport does). */
  outcome(): CallStatus | undefined {
    if (this.failure !== undefined) return this.failure;
    if (this.status !== undefined) {
      if (this.status.code !== GrpcStatus.OK) return this.status;
      if (this.body === undefined || this.filled < this.body.length) return { code: GrpcStatus.INTERNAL, details: 'no complete response message with status OK' };
      return { code: GrpcStatus.OK, details: '', message: this.body };
    }
    if (this.sawHeaders && (this.httpStatus !== 200 || !this.grpcContentType)) {
      return { code: statusFromHttp(this.httpStatus), details: `Received HTTP status code ${this.httpStatus} without a gRPC status` };
    }
    return undefined;
  }
}
