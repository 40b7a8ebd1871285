import * as grpc from '@grpc/grpc-js';
import { isIPv6 } from 'node:net';
import { formatHostPort, type Endpoint } from '../../core/model.js';

export const HANDLE_METHOD = '/httpgrpc.HTTP/Handle';

export interface ConnectionSettings {
  readonly credentials: grpc.ChannelCredentials;
  /** gRPC message limit both ways; grpc-js defaults to 4 MiB receive, far below remote-write bodies. */
  readonly maxGrpcMessageBytes: number;
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  /** Extra grpc-js channel options (TLS name override, reconnect backoff in tests). */
  readonly channelOptions?: grpc.ChannelOptions;
}

type Listener = () => void;
const identity = (b: Buffer): Buffer => b;

/**
 * One persistent HTTP/2 connection to one backend address: a grpc-js Client whose channel targets a
 * literal address (`ipv4:`/`ipv6:` resolver, pick_first over one subchannel), connected eagerly and
 * reconnected whenever it goes IDLE (GOAWAY, idle timeout), with keepalive pings so a dead peer is
 * noticed between requests (gRPC A8).
 */
export class EndpointConnection {
  readonly address: string;
  state: grpc.connectivityState = grpc.connectivityState.IDLE;
  inFlight = 0;
  /** Owners currently listing this endpoint; the pool closes it at zero refs and zero calls. */
  readonly listeners = new Set<Listener>();
  private readonly client: grpc.Client;
  private closed = false;

  constructor(
    endpoint: Endpoint,
    settings: ConnectionSettings,
    private readonly onUnused: (c: EndpointConnection) => void,
  ) {
    this.address = formatHostPort(endpoint.address, endpoint.port);
    const target = isIPv6(endpoint.address) ? `ipv6:${this.address}` : `ipv4:${this.address}`;
    this.client = new grpc.Client(target, settings.credentials, {
      'grpc.keepalive_time_ms': settings.keepaliveTimeMs,
      'grpc.keepalive_timeout_ms': settings.keepaliveTimeoutMs,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.max_send_message_length': settings.maxGrpcMessageBytes,
      'grpc.max_receive_message_length': settings.maxGrpcMessageBytes,
      ...settings.channelOptions,
    });
    this.watch();
  }

  private watch(): void {
    if (this.closed) return;
    const channel = this.client.getChannel();
    // `true`: leave IDLE at once. Connections are eager so the picker has READY endpoints before
    // the first request, and after a GOAWAY the replacement connection is dialled straight away.
    const state = channel.getConnectivityState(true);
    if (state !== this.state) {
      this.state = state;
      for (const l of this.listeners) l();
    }
    if (state === grpc.connectivityState.SHUTDOWN) return;
    channel.watchConnectivityState(state, Infinity, () => this.watch());
  }

  /** Start one httpgrpc call; `message` is an encoded HTTPRequest. */
  call(
    message: Buffer,
    metadata: grpc.Metadata,
    deadline: number,
    done: (err: grpc.ServiceError | null, response: Buffer | undefined) => void,
  ): grpc.ClientUnaryCall {
    this.inFlight++;
    // grpc-js captures a stack trace per call (new Error() in makeUnaryRequest) only to append it to
    // the stack of a failed call's error; we never read that stack, and capturing it is a measurable
    // part of each call (BENCHMARKS.md). Single-threaded: restored before anything else runs.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return this.client.makeUnaryRequest(HANDLE_METHOD, identity, identity, message, metadata, { deadline }, (err, res) => {
        this.inFlight--;
        if (this.inFlight === 0 && this.listeners.size === 0) this.onUnused(this);
        done(err, res);
      });
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.state = grpc.connectivityState.SHUTDOWN;
    this.client.close();
  }
}

/**
 * Connections by address, reference-counted (grpc-js subchannel-pool.ts habit): an owner that lists
 * an address again gets the same connection, so rebuilding an endpoint set never reconnects the
 * endpoints that stay, and a released connection lives until its last in-flight call ends.
 * One pool holds one set of ConnectionSettings; owners with other settings need their own pool.
 */
export class ConnectionPool {
  private readonly connections = new Map<string, EndpointConnection>();

  constructor(private readonly settings: ConnectionSettings) {}

  acquire(endpoint: Endpoint, listener: Listener): EndpointConnection {
    const key = formatHostPort(endpoint.address, endpoint.port);
    let conn = this.connections.get(key);
    if (conn === undefined) {
      conn = new EndpointConnection(endpoint, this.settings, (c) => this.closeIfUnused(c));
      this.connections.set(key, conn);
    }
    conn.listeners.add(listener);
    return conn;
  }

  release(conn: EndpointConnection, listener: Listener): void {
    conn.listeners.delete(listener);
    this.closeIfUnused(conn);
  }

  private closeIfUnused(conn: EndpointConnection): void {
    if (conn.listeners.size > 0 || conn.inFlight > 0) return;
    if (this.connections.get(conn.address) === conn) this.connections.delete(conn.address);
    conn.close();
  }

  /** Open connections (released ones still finishing calls included). */
  get size(): number {
    return this.connections.size;
  }
}
