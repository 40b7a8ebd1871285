// HTTP/2 sessions to one backend address: dialled eagerly, redialled with gRPC's connection backoff,
// kept alive with PINGs (gRFC A8), a second session opened when the first is at the server's
// SETTINGS_MAX_CONCURRENT_STREAMS, and GOAWAY honoured (RFC 9113 6.8): no new streams on that
// session at once, its open streams finish, a replacement is dialled straight away.
import type { OutgoingHttpHeaders, SecureClientSessionOptions } from 'node:http2';
import { formatHostPort, type Endpoint } from '../../core/model.js';
import { ConnectBackoff, type BackoffSettings } from './backoff.js';
import type { ClientSession, Dial, DialTarget, HttpGrpcClientKind } from './client-session.js';
import { dialSocket } from './h2/dial.js';
import { dialNodeHttp2 } from './node-http2-session.js';
import type { CallStatus, ClientGone } from './unary-call.js';

export type ConnectivityState = 'IDLE' | 'CONNECTING' | 'READY' | 'TRANSIENT_FAILURE' | 'SHUTDOWN';

export interface ConnectionSettings {
  /** TLS options for tls.connect (ALPN h2 is always set); undefined = plaintext h2c. */
  readonly tls?: SecureClientSessionOptions;
  /** gRPC message limit both ways. */
  readonly maxGrpcMessageBytes: number;
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly backoff: BackoffSettings;
  /** Which HTTP/2 client: our own on net.Socket (default) or node:http2 (-gateway.httpgrpc-client). */
  readonly client?: HttpGrpcClientKind;
}

const DIALERS: Record<HttpGrpcClientKind, Dial> = { socket: dialSocket, 'node-http2': dialNodeHttp2 };

type Listener = () => void;

class Session {
  /** SETTINGS received from the server: the session can carry streams. */
  ready = false;
  draining = false;
  active = 0;
  keepalive: NodeJS.Timeout | undefined;
  session!: ClientSession;

  get usable(): boolean {
    return this.ready && !this.draining && !this.session.closed;
  }

  get full(): boolean {
    return this.active >= this.session.maxConcurrentStreams;
  }
}

export class EndpointConnection {
  readonly address: string;
  state: ConnectivityState = 'IDLE';
  inFlight = 0;
  /** Owners currently listing this endpoint; the pool closes it at zero refs and zero calls. */
  readonly listeners = new Set<Listener>();
  private readonly target: DialTarget;
  private readonly sessions = new Set<Session>();
  private readonly backoff: ConnectBackoff;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    endpoint: Endpoint,
    private readonly settings: ConnectionSettings,
    private readonly onUnused: (c: EndpointConnection) => void,
  ) {
    this.address = formatHostPort(endpoint.address, endpoint.port);
    this.target = {
      host: endpoint.address,
      port: endpoint.port,
      address: this.address,
      ...(settings.tls ? { tls: settings.tls } : {}),
      maxGrpcMessageBytes: settings.maxGrpcMessageBytes,
    };
    this.backoff = new ConnectBackoff(settings.backoff);
    this.dial();
  }

  /** Sessions open to this endpoint (a second one only when the first is at its stream limit). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  private dial(): Session {
    const entry = new Session();
    this.sessions.add(entry);
    const connectTimer = setTimeout(() => entry.session.destroy('connect timeout'), this.backoff.attemptStarted());
    connectTimer.unref();
    entry.session = DIALERS[this.settings.client ?? 'socket'](this.target, {
      ready: () => {
        clearTimeout(connectTimer);
        if (entry.session.destroyed) return;
        entry.ready = true;
        this.backoff.reset();
        this.startKeepalive(entry);
        this.update();
      },
      goaway: () => this.drain(entry),
      close: () => {
        clearTimeout(connectTimer);
        clearInterval(entry.keepalive);
        this.sessions.delete(entry);
        if (this.closed) return;
        if (!entry.ready && !this.hasUsable()) {
          // A failed connect attempt: wait out the backoff (connection-backoff.md).
          this.state = 'TRANSIENT_FAILURE';
          this.notify();
          clearTimeout(this.retryTimer);
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            if (!this.closed && !this.hasUsable() && !this.hasConnecting()) this.dial();
          }, this.backoff.attemptFailed());
          this.retryTimer.unref();
          return;
        }
        this.update();
      },
    });
    this.update();
    return entry;
  }

  /** GOAWAY received: nothing new on this session, its open streams finish; a replacement is dialled at once. */
  private drain(entry: Session): void {
    if (entry.draining) return;
    entry.draining = true;
    entry.session.close();
    this.update();
  }

  private startKeepalive(entry: Session): void {
    const { keepaliveTimeMs, keepaliveTimeoutMs } = this.settings;
    entry.keepalive = setInterval(() => {
      const timeout = setTimeout(() => entry.session.destroy('keepalive ping not answered'), keepaliveTimeoutMs);
      timeout.unref();
      const sent = entry.session.ping(() => clearTimeout(timeout));
      if (!sent) clearTimeout(timeout);
    }, keepaliveTimeMs);
    entry.keepalive.unref();
  }

  private hasUsable(): boolean {
    for (const e of this.sessions) if (e.usable) return true;
    return false;
  }

  private hasConnecting(): boolean {
    for (const e of this.sessions) if (!e.ready && !e.session.destroyed) return true;
    return false;
  }

  /** Recompute the state; keep one session dialling whenever none is usable. */
  private update(): void {
    if (this.closed) return;
    if (!this.hasUsable() && !this.hasConnecting() && this.retryTimer === undefined) {
      this.dial();
      return;
    }
    const next: ConnectivityState = this.hasUsable() ? 'READY' : this.retryTimer !== undefined ? 'TRANSIENT_FAILURE' : 'CONNECTING';
    if (next !== this.state) {
      this.state = next;
      this.notify();
    }
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }

  /**
   * The session for a new stream: a usable one below its stream limit; when every one is full, a
   * session still connecting with room under the same limit, or a new one (the stream waits for its
   * SETTINGS). Streams queued past the limit would wait for a slot inside nghttp2 instead.
   */
  private sessionForStream(): Session | undefined {
    let limit = -1;
    for (const e of this.sessions) {
      if (!e.usable) continue;
      if (!e.full) return e;
      limit = Math.max(limit, e.active);
    }
    if (limit < 0) return undefined;
    for (const e of this.sessions) if (!e.ready && !e.draining && !e.session.destroyed && e.active < limit) return e;
    return this.dial();
  }

  /** Start one call; `frame` is the whole gRPC message (prefix included). */
  call(headers: OutgoingHttpHeaders, frame: Buffer, deadline: number, signal: ClientGone | undefined, done: (s: CallStatus) => void): void {
    const entry = this.sessionForStream();
    if (entry === undefined) {
      done({ code: 14, details: `no usable connection to ${this.address}`, transport: 'not_sent' });
      return;
    }
    this.inFlight++;
    entry.active++;
    entry.session.call({ headers, frame, deadline, maxReceiveBytes: this.settings.maxGrpcMessageBytes, ...(signal ? { signal } : {}) }, (status) => {
      entry.active--;
      this.inFlight--;
      if (this.inFlight === 0 && this.listeners.size === 0) this.onUnused(this);
      done(status);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.state = 'SHUTDOWN';
    clearTimeout(this.retryTimer);
    for (const e of this.sessions) {
      clearInterval(e.keepalive);
      // A session still connecting has nothing to finish: close() would wait for its connect first.
      if (!e.ready) e.session.destroy();
      else e.session.close();
    }
  }
}
