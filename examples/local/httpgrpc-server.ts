// A real httpgrpc server (the gRPC side of a Mimir component) for tests and the local demo:
// `/httpgrpc.HTTP/Handle` on a grpc-js Server, answering through a pluggable handler, and answering
// errors the way dskit does (gRPC status = HTTP code, HTTPResponse in grpc-status-details-bin).
import * as grpc from '@grpc/grpc-js';
import {
  decodeRequest,
  encodeResponse,
  encodeStatusWithResponse,
  type HttpGrpcHeader,
  type HttpGrpcResponseMessage,
} from '../../data-plane/httpgrpc/codec.js';
import { HANDLE_METHOD } from '../../data-plane/httpgrpc/connection-pool.js';

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  /** As on the wire: keys in Go canonical form, one entry per name. */
  readonly headers: readonly HttpGrpcHeader[];
  readonly body: Buffer;
  /** Text gRPC metadata, lower-case keys (x-scope-orgid, httpgrpc-method, message-size, ...). */
  readonly metadata: Readonly<Record<string, readonly string[]>>;
  /** Size of the encoded HTTPRequest as received. */
  readonly messageBytes: number;
  /** The client's address:port: the same value across requests means the same connection. */
  readonly peer: string;
}

/** Every value of a header, whatever the case of its name. */
export function headerValues(req: ReceivedRequest, name: string): readonly string[] {
  const lower = name.toLowerCase();
  return req.headers.find((h) => h.key.toLowerCase() === lower)?.values ?? [];
}

export interface HttpReply {
  readonly code?: number;
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: string | Uint8Array;
}

export type HandlerResult =
  | HttpReply
  /** dskit's httpgrpc.ErrorFromHTTPResponse: status code = HTTP code, the response in the details. */
  | { readonly dskitError: HttpReply & { readonly code: number } }
  /** A plain gRPC status without details (e.g. UNAVAILABLE from an overloaded server). */
  | { readonly grpcError: { readonly code: grpc.status; readonly details?: string } };

export type HttpGrpcHandler = (req: ReceivedRequest, ctx: { readonly signal: AbortSignal }) => HandlerResult | Promise<HandlerResult>;

export interface HttpGrpcServerOptions {
  /** Loopback in tests: 127.0.0.2, 127.0.0.3, ... are distinct hosts on Linux. */
  readonly host?: string;
  /** 0 (default): an ephemeral port, see `port`. */
  readonly port?: number;
  readonly handler?: HttpGrpcHandler;
  /** gRPC message limit both ways; default 101 MiB (Mimir's 100 MiB body plus envelope). */
  readonly maxMessageBytes?: number;
  /** Keep every request in `received` (default true; turn off for long-running demos). */
  readonly record?: boolean;
}

const identity = (b: Buffer): Buffer => b;
const HTTP_SERVICE: grpc.ServiceDefinition = {
  Handle: {
    path: HANDLE_METHOD,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

function toResponse(r: HttpReply, defaultCode: number): HttpGrpcResponseMessage {
  const headers: HttpGrpcHeader[] = [];
  for (const [key, v] of Object.entries(r.headers ?? {})) headers.push({ key, values: typeof v === 'string' ? [v] : v });
  const body = r.body === undefined ? Buffer.alloc(0) : typeof r.body === 'string' ? Buffer.from(r.body) : Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength);
  return { code: r.code ?? defaultCode, headers, body };
}

export const okHandler: HttpGrpcHandler = () => ({ code: 200, body: 'ok' });

export class HttpGrpcServer {
  readonly host: string;
  readonly port: number;
  handler: HttpGrpcHandler;
  readonly received: ReceivedRequest[] = [];
  requestCount = 0;
  inFlight = 0;
  /** Calls the client cancelled (deadline, gateway client gone) while the handler ran. */
  cancelledCount = 0;
  private readonly record: boolean;

  private constructor(
    private readonly server: grpc.Server,
    host: string,
    port: number,
    opts: HttpGrpcServerOptions,
  ) {
    this.host = host;
    this.port = port;
    this.handler = opts.handler ?? okHandler;
    this.record = opts.record ?? true;
  }

  /** "host:port" as an Endpoint address would be formatted. */
  get address(): string {
    return this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  get endpoint(): { address: string; port: number } {
    return { address: this.host, port: this.port };
  }

  static async start(opts: HttpGrpcServerOptions = {}): Promise<HttpGrpcServer> {
    const host = opts.host ?? '127.0.0.1';
    const limit = opts.maxMessageBytes ?? 101 * 1024 * 1024;
    const server = new grpc.Server({ 'grpc.max_receive_message_length': limit, 'grpc.max_send_message_length': limit });
    const bindHost = host.includes(':') ? `[${host}]` : host;
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${bindHost}:${opts.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
    });
    const self = new HttpGrpcServer(server, host, port, opts);
    server.addService(HTTP_SERVICE, { Handle: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => self.onCall(call, cb) });
    return self;
  }

  private onCall(call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>): void {
    this.requestCount++;
    this.inFlight++;
    const abort = new AbortController();
    call.on('cancelled', () => {
      this.cancelledCount++;
      abort.abort();
    });
    let req: ReceivedRequest;
    try {
      const m = decodeRequest(call.request);
      const metadata: Record<string, string[]> = {};
      for (const [k, v] of Object.entries(call.metadata.getMap())) if (typeof v === 'string') metadata[k] = call.metadata.get(k).map(String);
      req = { method: m.method, url: m.url, headers: m.headers, body: m.body, metadata, messageBytes: call.request.length, peer: call.getPeer() };
    } catch (err) {
      this.inFlight--;
      callback({ code: grpc.status.INVALID_ARGUMENT, details: `undecodable HTTPRequest: ${(err as Error).message}` });
      return;
    }
    if (this.record) this.received.push(req);
    Promise.resolve()
      .then(() => this.handler(req, { signal: abort.signal }))
      .then(
        (result) => {
          if ('grpcError' in result) {
            callback({ code: result.grpcError.code, details: result.grpcError.details ?? '' });
          } else if ('dskitError' in result) {
            const response = toResponse(result.dskitError, result.dskitError.code);
            const metadata = new grpc.Metadata();
            metadata.set('grpc-status-details-bin', encodeStatusWithResponse(response));
            callback({ code: response.code, details: response.body.toString('utf8'), metadata });
          } else {
            callback(null, encodeResponse(toResponse(result, 200)));
          }
        },
        (err: unknown) => callback({ code: grpc.status.INTERNAL, details: `handler failed: ${(err as Error).message}` }),
      )
      .finally(() => this.inFlight--);
  }

  /** Graceful: GOAWAY, let in-flight calls finish, then close. */
  shutdown(): Promise<void> {
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }

  /** Hard stop: every connection is destroyed at once, in-flight calls included (a crashed pod). */
  kill(): void {
    this.server.forceShutdown();
  }
}
