// What EndpointConnection needs from one HTTP/2 connection, whichever client implements it: the
// socket client (h2/connection.ts, the default) or node:http2 (node-http2-session.ts, kept one release
// behind -gateway.httpgrpc-client=node-http2).
import type { ConnectionOptions } from 'node:tls';
import type { CallOptions, CallStatus } from './unary-call.js';

export interface SessionEvents {
  /** The server's first SETTINGS arrived (RFC 9113 3.4): streams may start. */
  ready(): void;
  /** GOAWAY received (RFC 9113 6.8), or stream ids ran out: no new streams on this connection. */
  goaway(lastStreamId: number): void;
  /** The connection is gone; every call on it has been told. */
  close(): void;
}

export interface ClientSession {
  /** The server's SETTINGS_MAX_CONCURRENT_STREAMS (Infinity until it says). */
  readonly maxConcurrentStreams: number;
  /** Closing or closed: a new call would fail at once. */
  readonly closed: boolean;
  readonly destroyed: boolean;
  /** Start a call; `done` is called exactly once. */
  call(opts: CallOptions, done: (s: CallStatus) => void): void;
  /** Send a PING; `onAck` when it is answered. False when the connection cannot send. */
  ping(onAck: () => void): boolean;
  /** Take no new calls, let open ones finish, then close. */
  close(): void;
  /** Close now; open calls fail (as lost) with `reason` as the detail. */
  destroy(reason?: string): void;
}

export interface DialTarget {
  readonly host: string;
  readonly port: number;
  /** "host:port", sent as :authority. */
  readonly address: string;
  /** tls.connect options; undefined = plaintext h2c. */
  readonly tls?: ConnectionOptions;
  readonly maxGrpcMessageBytes: number;
}

export type Dial = (target: DialTarget, events: SessionEvents) => ClientSession;

/** Which HTTP/2 client carries httpgrpc calls. */
export type HttpGrpcClientKind = 'socket' | 'node-http2';
export const HTTPGRPC_CLIENTS: readonly HttpGrpcClientKind[] = ['socket', 'node-http2'];
