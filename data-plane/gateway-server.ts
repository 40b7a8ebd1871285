// The gateway's HTTP front door. Proxied requests go straight from node:http to the upstream
// (the hot path does one Map lookup, a short prefix scan and a metrics observation); the gateway's
// own endpoints (/ready, /metrics, /config, /gateway/...) are a fastify app on the same server.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { once } from 'node:events';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { CONTROL_PLANE_PREFIX, OWN_EXACT_PATHS, OWN_PREFIX, unsetBackendMessage } from '../core/routes.js';
import { retiredUpstreams, type GatewayState } from './gateway-state.js';
import type { GatewayMetrics } from './metrics.js';
import { answerClientError, sendDirect, sendError } from './respond.js';
import { originForm, routingPath, type RouteAction } from './router.js';
import type { Upstream, UpstreamContext } from './upstream.js';
import type { AuthResult } from './auth/authenticator.js';
import { setAuthenticatedTenant } from './auth/tenant-headers.js';
import type { TlsTermination } from '../core/tls-termination.js';

export interface GatewayServerConfig {
  readonly listenAddress: string;
  readonly listenPort: number;
  readonly maxBodyBytes: number;
  readonly idleTimeoutMs: number;
  readonly headerTimeoutMs: number;
  readonly gracefulShutdownMs: number;
  /** HTTPS: the TLS layer in front of the HTTP server; undefined: plain HTTP. */
  readonly tls?: TlsTermination;
}

export interface GatewayServerDeps {
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  /** Why the gateway cannot serve yet (shown with 503s), or undefined once it has a state. */
  notReadyReason(): string;
}

const OWN = new Set<string>(OWN_EXACT_PATHS);

export class GatewayServer {
  readonly app: FastifyInstance;
  private readonly server: http.Server;
  /** What listens: the HTTP server itself, or the TLS layer that hands it its connections. */
  private readonly listener: NetServer;
  private state: GatewayState | undefined;
  private inflight = 0;
  /** Request lines are debug; checked once, so the hot path pays nothing at info. */
  private readonly debug: boolean;
  private draining = false;

  constructor(
    private readonly cfg: GatewayServerConfig,
    private readonly deps: GatewayServerDeps,
  ) {
    this.debug = deps.logger.isLevelEnabled('debug');
    let fastifyHandler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
    this.server = http.createServer(
      {
        keepAliveTimeout: cfg.idleTimeoutMs,
        // Bodies may take long (block uploads); only the headers are timed. Node checks the
        // deadline every connectionsCheckingInterval, so keep that well below the timeout.
        requestTimeout: 0,
        headersTimeout: cfg.headerTimeoutMs,
        connectionsCheckingInterval: Math.max(100, Math.min(1000, cfg.headerTimeoutMs / 4)),
      },
      (req, res) => this.onRequest(req, res, fastifyHandler!),
    );
    this.listener = cfg.tls ? cfg.tls.serve(this.server) : this.server;
    // The HTTP server starts tracking connections (header timeouts, closeAllConnections) on its
    // 'listening' event; behind TLS the TCP server listens for it.
    if (cfg.tls) this.listener.on('listening', () => this.server.emit('listening'));
    this.app = Fastify({
      logger: false,
      clientErrorHandler: (err, socket) => answerClientError(err, socket, cfg.headerTimeoutMs),
      serverFactory: (handler) => {
        fastifyHandler = handler;
        return this.server;
      },
    });
  }

  get current(): GatewayState | undefined {
    return this.state;
  }

  /** Swaps in a complete new state; upstreams it no longer uses are closed after their last request. */
  apply(next: GatewayState): void {
    const prev = this.state;
    this.state = next;
    for (const u of retiredUpstreams(prev, next)) {
      u.close().catch((err: unknown) => this.deps.logger.warn({ err, backend: u.backend.name }, 'closing retired upstream failed'));
    }
  }

  async listen(): Promise<AddressInfo> {
    await this.app.ready();
    const host = this.cfg.listenAddress === '' ? undefined : this.cfg.listenAddress;
    this.listener.listen(this.cfg.listenPort, host);
    await once(this.listener, 'listening');
    return this.listener.address() as AddressInfo;
  }

  /** "host:port" the server listens on. */
  address(): string {
    const a = this.listener.address() as AddressInfo | null;
    return a ? `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}` : '';
  }

  get listening(): boolean {
    return this.listener.listening && !this.draining;
  }

  /** Stops accepting, lets in-flight requests finish (bounded), then closes everything. */
  async close(): Promise<void> {
    this.draining = true;
    const closed = this.listener.listening ? once(this.listener, 'close') : Promise.resolve([]);
    this.listener.close();
    if (this.listener !== this.server) this.server.close(); // stops its connection checks; it never listened itself
    this.server.closeIdleConnections();
    const deadline = Date.now() + this.cfg.gracefulShutdownMs;
    while (this.inflight > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25).unref());
      this.server.closeIdleConnections();
    }
    this.server.closeAllConnections();
    await closed;
    await this.app.close();
    const upstreams = new Set(this.state?.upstreams.values() ?? []);
    await Promise.all([...upstreams].map((u) => u.close().catch(() => undefined)));
  }

  private onRequest(req: IncomingMessage, res: ServerResponse, own: (req: IncomingMessage, res: ServerResponse) => void): void {
    let url = req.url ?? '/';
    if (url.charCodeAt(0) !== 0x2f) {
      const origin = originForm(url);
      if (origin === undefined) {
        sendError(res, 'BAD_REQUEST', `request target ${JSON.stringify(url)} is not a path; send /path or http://host/path`);
        return;
      }
      req.url = url = origin;
    }
    const path = routingPath(url);
    if (path === undefined) {
      sendError(res, 'BAD_REQUEST', `invalid percent-encoding in request path`);
      return;
    }
    if (OWN.has(path) || path.startsWith(OWN_PREFIX) || path.startsWith(CONTROL_PLANE_PREFIX)) {
      own(req, res);
      return;
    }
    if (this.draining) res.setHeader('connection', 'close');
    const state = this.state;
    if (!state) {
      sendError(res, 'NOT_READY', this.deps.notReadyReason());
      return;
    }
    const route = state.router.match(path);
    if (!route) {
      sendError(res, 'BACKEND_UNSET', unsetBackendMessage('default'));
      return;
    }
    const auth = state.auth;
    if (!auth) {
      this.dispatch(req, res, route, state);
      return;
    }
    // Before anything else about the route (even a fixed answer naming config fields): an unauthenticated
    // client learns nothing about the cluster behind the gateway.
    const started = performance.now();
    const result = auth.check(req, route.scopes);
    if (result instanceof Promise) {
      result.then(
        (r) => this.afterAuth(req, res, route, state, r, started),
        (err: unknown) => {
          this.deps.logger.error({ err }, 'authentication failed unexpectedly');
          res.destroy();
        },
      );
    } else {
      this.afterAuth(req, res, route, state, result, started);
    }
  }

  private dispatch(req: IncomingMessage, res: ServerResponse, route: RouteAction, state: GatewayState): void {
    if (route.direct) {
      sendDirect(res, route.direct.status, route.direct.body);
      return;
    }
    const backend = route.cluster!;
    const upstream = state.upstreams.get(backend);
    if (!upstream) {
      // Never in a consistent state (the apply step checks every route's cluster exists).
      sendError(res, 'BACKEND_UNSET', `no upstream for cluster "${backend}"`);
      return;
    }
    this.proxy(req, res, route, upstream);
  }

  private afterAuth(req: IncomingMessage, res: ServerResponse, route: RouteAction, state: GatewayState, r: AuthResult, started: number): void {
    if (!r.ok) {
      sendError(res, r.key, r.message, r.headers);
      // Counted with the proxied requests, so dashboards of status codes per route show refusals too.
      this.deps.metrics.observe(route.cluster ?? 'none', route.label, req.method ?? 'GET', res.statusCode, (performance.now() - started) / 1000);
      return;
    }
    // The tenant is the authenticated one: the client's X-Scope-OrgID and Authorization go.
    setAuthenticatedTenant(req, r.tenant, r.policyHeaders);
    this.dispatch(req, res, route, state);
  }

  private proxy(req: IncomingMessage, res: ServerResponse, route: RouteAction, upstream: Upstream): void {
    const backend = route.cluster!;
    if (countHeader(req.rawHeaders, 'x-scope-orgid') > 1) {
      sendError(res, 'DUPLICATE_ORG_ID', 'more than one X-Scope-OrgID header; send exactly one tenant header');
      return;
    }
    const cl = req.headers['content-length'];
    if (cl !== undefined && Number(cl) > this.cfg.maxBodyBytes) {
      // Not reading the body: close the connection after answering.
      sendError(res, 'BODY_TOO_LARGE', `request body of ${cl} bytes exceeds ${this.cfg.maxBodyBytes} bytes (-server.http-max-request-body-bytes)`, {
        connection: 'close',
      });
      return;
    }
    const started = performance.now();
    const inflight = this.deps.metrics.inflight;
    inflight.inc({ backend });
    this.inflight++;
    const label = route.label;
    res.once('close', () => {
      this.inflight--;
      inflight.dec({ backend });
      const seconds = (performance.now() - started) / 1000;
      this.deps.metrics.observe(backend, label, req.method ?? 'GET', res.statusCode, seconds);
      if (this.debug) {
        this.deps.logger.debug({ method: req.method, url: req.url, backend, route: label, status: res.statusCode, seconds, completed: res.writableFinished }, 'request');
      }
    });
    upstream.handle(req, res, this.contextFor(backend));
  }

  private readonly contexts = new Map<string, UpstreamContext>();
  /** Rate limit of upstream-failure log lines, per backend and reason. */
  private readonly logged = new Map<string, { at: number; suppressed: number }>();

  private contextFor(backend: string): UpstreamContext {
    let ctx = this.contexts.get(backend);
    if (!ctx) {
      const { logger, metrics } = this.deps;
      ctx = {
        maxBodyBytes: this.cfg.maxBodyBytes,
        onUpstreamError: (reason, err) => {
          metrics.upstreamErrors.inc({ backend, reason });
          // At most one line per backend and reason a second: a dead backend under load would
          // otherwise spend more CPU on logging than on answering (the counter has every failure).
          const key = `${backend}\0${reason}`;
          const now = Date.now();
          const last = this.logged.get(key);
          if (last && now - last.at < 1000) {
            last.suppressed++;
            return;
          }
          const suppressed = last?.suppressed ?? 0;
          this.logged.set(key, { at: now, suppressed: 0 });
          logger.warn({ backend, reason, err: err instanceof Error ? err.message : String(err), ...(suppressed ? { suppressed } : {}) }, 'upstream request failed');
        },
      };
      this.contexts.set(backend, ctx);
    }
    return ctx;
  }
}

function countHeader(raw: readonly string[], lower: string): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === lower.length && raw[i]!.toLowerCase() === lower) n++;
  return n;
}
