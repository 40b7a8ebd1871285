import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ErrorKey } from '../../core/errors.js';
import { formatHostPort, type Endpoint, type TlsSettings } from '../../core/model.js';
import { ConnectionPool } from './connection-pool.js';
import type { EndpointConnection } from './endpoint-connection.js';
import { ClientGone } from './unary-call.js';
import type { OutgoingHttpHeaders } from 'node:http2';
import { decodeResponse } from './codec.js';
import { GRPC_BACKOFF, type BackoffSettings } from './backoff.js';
import type { ConnectivityState } from './endpoint-connection.js';
import type { HttpGrpcClientKind } from './client-session.js';
import { GrpcStatus, grpcTimeout, HANDLE_METHOD } from './grpc-wire.js';
import { tlsOptionsFor } from './tls-options.js';
import type { HttpGrpcMetrics } from './metrics.js';
import { classifyError, type CallOutcome } from './outcome.js';
import { EndpointBalancer, callResult, type EjectionStatus } from './balancer.js';
import type { BalancingPolicy } from '../../core/balancing.js';
import { readRequest, requestHeaders } from './request.js';
import { sendError } from '../respond.js';
import type { UpstreamContext } from '../upstream.js';
import { writeHttpResponse } from './response.js';
import type { EndpointLoad } from '../load/load-recorder.js';

/** Mimir's -distributor.max-recv-msg-size default. */
export const DEFAULT_MAX_MESSAGE_BYTES = 100 * 1024 * 1024;
/** Tries per request across endpoints, only for calls that never reached a backend. */
export const MAX_ATTEMPTS = 3;
/** Room for method, url and headers on top of the body in the gRPC message limit. */
const ENVELOPE_BYTES = 1024 * 1024;
// dskit grpcclient defaults; Go servers answer pings more often than every 10 s
// (-server.grpc.keepalive.min-time-between-pings) with GOAWAY too_many_pings.
const DEFAULT_KEEPALIVE_TIME_MS = 20_000;
const DEFAULT_KEEPALIVE_TIMEOUT_MS = 10_000;
const PRINTABLE = /^[ -~]*$/;
const USER_AGENT = 'metrics-gateway-httpgrpc (node:http2)';
/** Reasons the gateway's UpstreamContext counts, by registry error. */
const GATEWAY_REASON: Partial<Record<ErrorKey, string>> = {
  UPSTREAM_REFUSED: 'reset',
  UPSTREAM_TIMEOUT: 'timeout',
  UPSTREAM_TOO_LARGE: 'too_large',
  UPSTREAM_UNAVAILABLE: 'unavailable',
  UPSTREAM_FAILED: 'failed',
};

export interface HttpGrpcUpstreamOptions {
  /** Backend name, used in metrics labels and error bodies (e.g. "distributor"). */
  readonly backend: string;
  /** The configured URL, shown in error bodies (e.g. "dns:///distributor:9095"). */
  readonly url?: string;
  /** Largest request body accepted; larger ones get 413 without touching a backend. */
  readonly maxMessageBytes?: number;
  /** Per-request budget: waiting for a READY endpoint plus every try. */
  readonly timeoutMs: number;
  readonly tls?: TlsSettings;
  readonly logger: Logger;
  readonly metrics: HttpGrpcMetrics;
  readonly keepaliveTimeMs?: number;
  readonly keepaliveTimeoutMs?: number;
  /** Told of every call handed to an endpoint and its outcome (load reports); see data-plane/load. */
  readonly load?: EndpointLoad;
  /** Connect backoff; gRPC's connection-backoff.md values unless a test shortens them. */
  readonly backoff?: Partial<BackoffSettings>;
  /** Round robin without outlier detection unless given; setBalancing changes it in place. */
  readonly balancing?: BalancingPolicy;
  /** This gateway's zone (-gateway.xds.locality-zone): the balancer prefers endpoints in it (zone-chooser.ts). */
  readonly localZone?: string;
  /** HTTP/2 client: 'socket' (default, h2/) or 'node-http2' (-gateway.httpgrpc-client, kept one release). */
  readonly client?: HttpGrpcClientKind;
}

export interface EndpointStatus {
  readonly address: string;
  readonly state: ConnectivityState;
  readonly inFlight: number;
  /** With outlier detection on. */
  readonly outlier?: EjectionStatus;
}

/**
 * HTTP in, httpgrpc out: every request is one `/httpgrpc.HTTP/Handle` call on a persistent HTTP/2
 * connection, round-robin per request over the READY endpoints (a remote-write client that keeps one
 * TCP connection forever still spreads over every distributor).
 */
export class HttpGrpcUpstream {
  readonly backend: string;
  private readonly url: string;
  private readonly maxMessageBytes: number;
  private readonly timeoutMs: number;
  private readonly logger: Logger;
  private readonly metrics: HttpGrpcMetrics;
  private readonly pool: ConnectionPool;
  private readonly load: EndpointLoad | undefined;
  private readonly scheme: 'http' | 'https';
  /** Current endpoints in the order given, by "host:port". */
  private members = new Map<string, EndpointConnection>();
  /** Picks per request: skips the ejected, then round robin or least request (balancer.ts). */
  private readonly balancer: EndpointBalancer<EndpointConnection>;
  private readonly localZone: string | undefined;
  /** Endpoint address → its zone, for the zone byte counts. */
  private zoneOf: ReadonlyMap<string, string> = new Map();
  /** Requests waiting for the next picker (nothing READY, something CONNECTING). */
  private waiters = new Set<() => void>();
  private readonly onConnectivityChange = (): void => this.rebuildPicker();
  private calls = 0;
  /** Requests inside handle(); a closed (retired) upstream keeps its endpoints until they are done. */
  private active = 0;
  private closed = false;
  private closedResolve: (() => void) | undefined;

  constructor(opts: HttpGrpcUpstreamOptions) {
    this.backend = opts.backend;
    this.url = opts.url ?? opts.backend;
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.timeoutMs = opts.timeoutMs;
    this.logger = opts.logger.child({ backend: opts.backend });
    this.metrics = opts.metrics;
    this.load = opts.load;
    const tls = tlsOptionsFor(opts.tls);
    this.scheme = tls ? 'https' : 'http';
    this.pool = new ConnectionPool({
      ...(tls ? { tls } : {}),
      maxGrpcMessageBytes: this.maxMessageBytes + ENVELOPE_BYTES,
      keepaliveTimeMs: opts.keepaliveTimeMs ?? DEFAULT_KEEPALIVE_TIME_MS,
      keepaliveTimeoutMs: opts.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
      backoff: { ...GRPC_BACKOFF, ...opts.backoff },
      ...(opts.client ? { client: opts.client } : {}),
    });
    this.balancer = new EndpointBalancer({ backend: opts.backend, logger: this.logger, metrics: this.metrics, ...(opts.load ? { load: opts.load } : {}) });
    this.balancer.onRebuild = () => this.wakeWaiters();
    if (opts.balancing) this.balancer.setPolicy(opts.balancing);
    this.localZone = opts.localZone || undefined;
  }

  /** Change round robin / least request and outlier detection in place: connections and counts stay. */
  setBalancing(policy: BalancingPolicy): void {
    this.balancer.setPolicy(policy);
  }

  get balancing(): BalancingPolicy {
    return this.balancer.current;
  }

  /**
   * Replace the endpoint set. Endpoints that stay keep their connection; removed ones stop getting
   * new requests at once and close after their last in-flight call.
   */
  setEndpoints(endpoints: readonly Endpoint[], zoneGateways?: ReadonlyMap<string, number>): void {
    if (this.closed) return;
    const next = new Map<string, EndpointConnection>();
    for (const ep of endpoints) {
      const key = formatHostPort(ep.address, ep.port);
      if (next.has(key)) continue;
      const known = this.members.get(key);
      if (!known) this.metrics.initEndpoint(this.backend, key);
      next.set(key, known ?? this.pool.acquire(ep, this.onConnectivityChange));
    }
    for (const [key, conn] of this.members) {
      if (next.has(key)) continue;
      this.pool.release(conn, this.onConnectivityChange);
      if (conn.inFlight === 0) this.metrics.forgetEndpoint(this.backend, key);
    }
    this.members = next;
    const zones = new Map<string, string>();
    for (const ep of endpoints) if (ep.zone) zones.set(formatHostPort(ep.address, ep.port), ep.zone);
    this.zoneOf = zones;
    if (zones.size > 0 || this.localZone !== undefined) this.balancer.setZones(zones, this.localZone, zoneGateways);
    this.load?.setZones?.(zones);
    this.rebuildPicker();
  }

  endpoints(): EndpointStatus[] {
    return [...this.members.values()].map((c) => {
      const outlier = this.balancer.status(c.address);
      return { address: c.address, state: c.state, inFlight: c.inFlight, ...(outlier ? { outlier } : {}) };
    });
  }

  /** Connections this upstream's pool holds open, removed ones still finishing calls included. */
  get openConnections(): number {
    return this.pool.size;
  }

  private rebuildPicker(): void {
    const before = this.balancer.readyCount;
    this.balancer.rebuild(this.members.values());
    if (this.balancer.readyCount !== before) {
      const ready = [...this.members.values()].filter((c) => c.state === 'READY').map((c) => c.address);
      this.logger.info({ ready, endpoints: this.members.size }, 'httpgrpc ready endpoints changed');
    }
  }

  private wakeWaiters(): void {
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
  }

  private anyConnecting(): boolean {
    for (const c of this.members.values()) {
      if (c.state === 'CONNECTING' || c.state === 'IDLE') return true;
    }
    return false;
  }

  /** A READY endpoint, waiting for later pickers while one is still connecting, up to the deadline. */
  private async pickReady(deadline: number, tried: ReadonlySet<EndpointConnection>, signal: ClientGone): Promise<EndpointConnection | undefined> {
    for (;;) {
      const conn = this.balancer.pick(tried);
      if (conn !== undefined) return conn;
      const remaining = deadline - Date.now();
      if (!this.anyConnecting() || signal.aborted || remaining <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          if (signal.onAbort === wake) signal.onAbort = undefined;
          resolve();
        };
        const timer = setTimeout(wake, remaining);
        timer.unref();
        this.waiters.add(wake);
        signal.onAbort = wake;
      });
    }
  }

  /**
   * Serve one request. Never rejects: every failure becomes an HTTP error response. With the gateway's
   * context, the smaller body limit applies and final failures are reported to `onUpstreamError`.
   */
  async handle(req: IncomingMessage, res: ServerResponse, ctx?: UpstreamContext): Promise<void> {
    this.active++;
    try {
      await this.serve(req, res, ctx);
    } catch (err) {
      this.logger.error({ err }, 'httpgrpc proxy failed');
      ctx?.onUpstreamError('failed', err);
      if (!res.headersSent) sendError(res, 'UPSTREAM_FAILED', `${this.describe()}: ${(err as Error).message}`);
      else res.destroy();
    } finally {
      if (--this.active === 0 && this.closed) {
        this.releaseMembers();
        if (this.calls === 0) this.closedResolve?.();
      }
    }
  }

  private describe(endpoint?: string): string {
    const where = this.url === this.backend ? this.backend : `${this.backend} (${this.url})`;
    return endpoint === undefined ? where : `${where} endpoint ${endpoint}`;
  }

  private async serve(req: IncomingMessage, res: ServerResponse, ctx: UpstreamContext | undefined): Promise<void> {
    if (this.closed) return sendError(res, 'UPSTREAM_UNAVAILABLE', `${this.describe()}: the proxy is shutting down`);
    const orgIds = req.headersDistinct['x-scope-orgid'];
    if (orgIds !== undefined && orgIds.length > 1) {
      return sendError(res, 'DUPLICATE_ORG_ID', `${orgIds.length} X-Scope-OrgID headers; send one (several tenants go in one value, joined by "|")`);
    }
    const orgId = orgIds?.[0];
    if (orgId !== undefined && !PRINTABLE.test(orgId)) {
      return sendError(res, 'BAD_REQUEST', 'X-Scope-OrgID must be printable ASCII');
    }

    const limit = Math.min(this.maxMessageBytes, ctx?.maxBodyBytes ?? Infinity);
    const body = await readRequest(req, requestHeaders(req), limit);
    if (body.kind === 'aborted') return;
    if (body.kind === 'too_large') {
      // Connection: close, so Node does not read the rest of an oversized body just to discard it.
      return sendError(res, 'BODY_TOO_LARGE', `request body exceeds ${limit} bytes for ${this.describe()}`, { connection: 'close' });
    }

    // PROTOCOL-HTTP2.md Request-Headers, then the metadata dskit servers and Mimir's limiters read
    // before decoding the message (user.InjectOrgIDIntoGRPC, httpgrpc.AppendRequestMetadataToContext,
    // grpcutil.MetadataMessageSize). grpc-timeout is set per try, from what is left of the budget.
    const headers: OutgoingHttpHeaders = {
      ':method': 'POST',
      ':scheme': this.scheme,
      ':path': HANDLE_METHOD,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': USER_AGENT,
      'httpgrpc-method': req.method ?? 'GET',
      'message-size': String(body.messageBytes),
    };
    if (orgId !== undefined) headers['x-scope-orgid'] = orgId;
    const url = req.url ?? '/';
    if (PRINTABLE.test(url)) headers['httpgrpc-url'] = url;

    const gone = new ClientGone();
    const onClose = (): void => {
      if (!res.writableFinished) gone.abort();
    };
    res.once('close', onClose);
    try {
      await this.forward(req, res, body, headers, gone, ctx);
    } finally {
      res.off('close', onClose);
    }
  }

  private async forward(
    req: IncomingMessage,
    res: ServerResponse,
    body: { readonly frame: Buffer; readonly messageBytes: number },
    headers: OutgoingHttpHeaders,
    signal: ClientGone,
    ctx: UpstreamContext | undefined,
  ): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    const tried = new Set<EndpointConnection>();
    let lastFailure = '';
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      // The common case picks at once; only an empty picker waits (a promise per request is not free).
      const conn = this.balancer.pick(tried) ?? (await this.pickReady(deadline, tried, signal));
      if (signal.aborted) return;
      if (conn === undefined) break;
      tried.add(conn);
      const outcome = await this.callOnce(conn, body, headers, deadline, signal);
      if (signal.aborted) return;
      if (outcome.kind === 'response') {
        if (!writeHttpResponse(res, req.method ?? 'GET', outcome.response)) {
          sendError(res, 'UPSTREAM_FAILED', `${this.describe(conn.address)}: invalid HTTP response (status ${outcome.response.code} or a header)`);
        }
        return;
      }
      if (outcome.kind === 'error') {
        const message = `${this.describe(conn.address)}: ${outcome.detail}`;
        ctx?.onUpstreamError(GATEWAY_REASON[outcome.key] ?? 'failed', new Error(message));
        return sendError(res, outcome.key, message);
      }
      lastFailure = `; last try ${conn.address}: ${outcome.detail}`;
      this.logger.debug({ endpoint: conn.address, attempt, detail: outcome.detail }, 'httpgrpc call never reached the backend; retrying');
    }
    this.metrics.noEndpoint.inc({ backend: this.backend });
    this.load?.dropped();
    const failure =
      tried.size === 0
        ? `${this.describe()}: no READY endpoint (${this.balancer.readyCount}/${this.members.size} ready)`
        : `${this.describe()}: no endpoint took the request after ${tried.size} tries${lastFailure}`;
    ctx?.onUpstreamError('unavailable', new Error(failure));
    sendError(res, 'UPSTREAM_UNAVAILABLE', failure);
  }

  private callOnce(
    conn: EndpointConnection,
    body: { readonly frame: Buffer; readonly messageBytes: number },
    headers: OutgoingHttpHeaders,
    deadline: number,
    signal: ClientGone,
  ): Promise<CallOutcome> {
    const labels = { backend: this.backend, endpoint: conn.address };
    this.metrics.requests.inc(labels);
    this.metrics.inFlight.inc(labels);
    const loadDone = this.load?.start(conn.address);
    this.calls++;
    return new Promise((resolve) => {
      const callHeaders = { ...headers, 'grpc-timeout': grpcTimeout(deadline - Date.now()) };
      conn.call(callHeaders, body.frame, deadline, signal, (status) => {
        this.metrics.inFlight.dec(labels);
        const toZone = this.zoneOf.get(conn.address);
        if (toZone !== undefined || this.localZone !== undefined) this.metrics.zoneCall(this.backend, this.localZone ?? '', toZone ?? '', body.frame.length, status.message?.length ?? 0);
        let outcome: CallOutcome;
        if (status.code === GrpcStatus.OK && status.message !== undefined) {
          try {
            outcome = { kind: 'response', response: decodeResponse(status.message) };
          } catch (e) {
            outcome = { kind: 'error', key: 'UPSTREAM_FAILED', reason: 'failed', detail: `undecodable HTTPResponse: ${(e as Error).message}` };
          }
        } else {
          outcome = classifyError(status, body.messageBytes);
          if (signal.aborted) outcome = { kind: 'error', key: 'UPSTREAM_FAILED', reason: 'cancelled', detail: 'client went away' };
        }
        // Failed for load reports: no answer, or a 5xx answer (the backend's own, carried in the call).
        loadDone?.(outcome.kind !== 'response' || outcome.response.code >= 500);
        const result = callResult(outcome);
        if (result !== undefined) this.balancer.record(conn.address, result);
        if (outcome.kind !== 'response') {
          this.metrics.errors.inc({ ...labels, reason: outcome.kind === 'retry' ? 'not_sent' : outcome.reason });
        }
        if (conn.inFlight === 0 && this.members.get(conn.address) !== conn) this.metrics.forgetEndpoint(this.backend, conn.address);
        this.calls--;
        if (this.calls === 0 && this.active === 0) this.closedResolve?.();
        resolve(outcome);
      });
    });
  }

  /**
   * Stop taking requests, release every connection, resolve when in-flight calls have ended.
   * Requests already handed to this upstream (a config swap retires it while they read their body
   * or wait for an endpoint) still finish on its endpoints: releasing those at once answered them
   * 503 "no READY endpoint (0/0 ready)", a reload failing requests it had accepted.
   */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      if (this.active === 0) this.releaseMembers();
    }
    if (this.calls === 0 && this.active === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.closedResolve;
      this.closedResolve = () => {
        previous?.();
        resolve();
      };
    });
  }

  private releaseMembers(): void {
    for (const [key, conn] of this.members) {
      this.pool.release(conn, this.onConnectivityChange);
      if (conn.inFlight === 0) this.metrics.forgetEndpoint(this.backend, key);
    }
    this.members = new Map();
    this.rebuildPicker();
    this.balancer.close();
  }
}
