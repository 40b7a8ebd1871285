// One unary call as an HTTP/2 stream on an H2Connection: its flow-control windows, what is left of the
// request to send, and the reading of its header blocks into a CallResponse (RFC 9113 8.1: one
// HEADERS with :status, DATA, then trailers with END_STREAM; 1xx responses are skipped).
import { CallResponse, grpcStatusOf } from '../call-response.js';
import { GrpcStatus } from '../grpc-wire.js';
import type { CallOptions, CallStatus } from '../unary-call.js';
import type { HeaderList } from './hpack-decoder.js';
import { LOCAL } from './local-settings.js';

export type StreamPhase = 'queued' | 'open' | 'closed';

export class ClientStream {
  id = 0;
  phase: StreamPhase = 'queued';
  /** RFC 9113 6.9.1: what the peer lets us send on this stream (may go negative after SETTINGS). */
  sendWindow = 0;
  /** Bytes of the request frame already sent as DATA. */
  sent = 0;
  /** Received DATA bytes not yet returned to the peer in a WINDOW_UPDATE. */
  unacked = 0;
  /** RFC 9113 6.9.1: what the peer may still send on this stream. */
  recvWindow: number = LOCAL.streamWindow;
  remoteEnded = false;
  /** Header blocks received: 0 before the response headers, 1 after, 2 after the trailers. */
  private blocks = 0;
  readonly response: CallResponse;
  timer: NodeJS.Timeout | undefined;
  onAbort: (() => void) | undefined;

  constructor(
    readonly opts: CallOptions,
    readonly done: (s: CallStatus) => void,
  ) {
    this.response = new CallResponse(opts.maxReceiveBytes);
  }

  get localEnded(): boolean {
    return this.sent === this.opts.frame.length;
  }

  get sawHeaders(): boolean {
    return this.response.sawHeaders;
  }

  /**
   * A decoded header block for this stream. Returns why it is malformed (a stream error
   * PROTOCOL_ERROR, RFC 9113 8.1.1), or undefined.
   */
  headerBlock(list: HeaderList, endStream: boolean): string | undefined {
    if (list.malformed !== undefined) return list.malformed;
    const { names, values } = list;
    const get = (name: string): string | undefined => {
      for (let i = 0; i < names.length; i++) if (names[i] === name) return values[i];
      return undefined;
    };
    if (this.blocks === 0) {
      // RFC 9113 8.3.2: a response has exactly one pseudo-header, :status, before every other field.
      let status = -1;
      for (let i = 0; i < names.length; i++) {
        const n = names[i]!;
        if (n.charCodeAt(0) !== 0x3a) continue;
        if (n !== ':status' || status !== -1 || i !== 0) return `pseudo-header ${n} misplaced or not allowed in a response`;
        status = /^[1-5]\d\d$/.test(values[i]!) ? Number(values[i]) : -2;
      }
      if (status < 0) return 'response without a valid :status';
      if (status < 200) {
        // 8.1: informational responses precede the final one and never end the stream.
        return endStream ? 'informational response with END_STREAM' : undefined;
      }
      this.blocks = 1;
      this.response.headers(status, get('content-type'), grpcStatusOf(get));
      return undefined;
    }
    if (this.blocks === 1) {
      // 8.1: trailers end the stream and carry no pseudo-headers.
      if (!endStream) return 'trailers without END_STREAM';
      for (const n of names) if (n.charCodeAt(0) === 0x3a) return `pseudo-header ${n} in trailers`;
      this.blocks = 2;
      this.response.trailers(grpcStatusOf(get));
      return undefined;
    }
    return 'a header block after the trailers';
  }

  /** The outcome when the peer ended the stream (END_STREAM). */
  ended(): CallStatus {
    return this.response.outcome() ?? { code: GrpcStatus.INTERNAL, details: 'stream ended without a gRPC status' };
  }
}
