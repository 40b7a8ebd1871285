// Reverse proxy to an http(s):// backend over an undici keep-alive pool. Bodies stream both ways;
// method, path and raw query pass byte for byte; hop-by-hop headers are dropped (RFC 9110 7.6.1).

import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import type { Backend, HttpTarget } from '../core/model.js';
import type { ErrorKey } from '../core/errors.js';
import { connectionListed, isHopByHop } from './headers.js';
import { sendError } from './respond.js';
import type { Upstream, UpstreamContext } from './upstream.js';
import type { EndpointLoad } from './load/load-recorder.js';

const BODYLESS = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'TRACE']);

export class BodyTooLargeError extends Error {
  readonly code = 'GW_BODY_TOO_LARGE';
}

export class HttpUpstream implements Upstream {
  readonly kind = 'http';
  private readonly pool: Pool;
  private readonly target: HttpTarget;

  private readonly endpoint: string;

  /** `load`: told of each request and its outcome (load reports); the endpoint is the URL's host:port. */
  constructor(
    readonly backend: Backend,
    private readonly load?: EndpointLoad,
  ) {
    if (backend.target.kind !== 'http') throw new Error(`backend ${backend.name} is not http(s)`);
    this.target = backend.target;
    const tls = backend.tls;
    this.endpoint = `${hostForUrl(this.target.host)}:${this.target.port}`;
    const origin = `${this.target.scheme}://${this.endpoint}`;
    this.pool = new Pool(origin, {
      connections: null,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      keepAliveMaxTimeout: 600_000,
      headersTimeout: backend.timeoutMs,
      bodyTimeout: backend.timeoutMs,
      connect:
        this.target.scheme === 'https'
          ? {
              timeout: Math.min(backend.timeoutMs, 10_000),
              ...(tls.caPath ? { ca: readFileSync(tls.caPath) } : {}),
              ...(tls.certPath ? { cert: readFileSync(tls.certPath) } : {}),
              ...(tls.keyPath ? { key: readFileSync(tls.keyPath) } : {}),
              ...(tls.serverName ? { servername: tls.serverName } : {}),
              rejectUnauthorized: !tls.insecureSkipVerify,
            }
          : { timeout: Math.min(backend.timeoutMs, 10_000) },
    });
  }

  handle(req: IncomingMessage, res: ServerResponse, ctx: UpstreamContext): void {
    const method = req.method ?? 'GET';
    const headers = forwardHeaders(req);
    let body: Readable | null = null;
    const cl = req.headers['content-length'];
    if (cl !== undefined || req.headers['transfer-encoding'] !== undefined || !BODYLESS.has(method)) {
      // Content-Length above the limit was answered before we got here; chunked bodies are counted.
      body = cl !== undefined ? req : req.pipe(limitBody(ctx.maxBodyBytes));
    }
    // dispatch() with a small handler instead of stream(): no AbortController, promise and
    // api-stream handler per request (about a quarter of the gateway's CPU per request; BENCHMARKS.md).
    this.pool.dispatch(
      { path: req.url ?? '/', method: method as 'GET', headers, body, reset: !this.backend.enableKeepalive },
      new ResponseRelay(res, (err) => this.fail(err, res, ctx), this.load?.start(this.endpoint)),
    );
  }

  /** Reports a failed upstream request; the relay has already dropped errors after the client left. */
  private fail(err: unknown, res: ServerResponse, ctx: UpstreamContext): void {
    const { key, reason, text } = classify(err, this.backend.timeoutMs);
    if (key === 'BODY_TOO_LARGE') {
      sendError(res, key, `request body exceeds ${ctx.maxBodyBytes} bytes (-server.http-max-request-body-bytes)`, { connection: 'close' });
      return;
    }
    ctx.onUpstreamError(reason, err);
    sendError(res, key, `backend ${this.backend.name} (${this.backend.url}): ${text}`);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/**
 * Copies one upstream response into `res` (undici's DispatchHandler API). Backpressure: undici is
 * paused while `res` is full. The client going away aborts the upstream request, and the error that
 * follows is not reported.
 */
class ResponseRelay implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private clientGone = false;
  private status = 0;

  constructor(
    private readonly res: ServerResponse,
    private readonly onFail: (err: Error) => void,
    /** Load report outcome: failed = no complete answer or a 5xx one. */
    private readonly onDone?: (failed: boolean) => void,
  ) {
    res.once('close', this.onClose);
  }

  private readonly onClose = (): void => {
    if (this.res.writableFinished) return;
    this.clientGone = true;
    this.controller?.abort(new Error('client went away'));
  };

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone) controller.abort(new Error('client went away'));
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return; // 1xx: the final response follows
    this.status = statusCode;
    this.res.writeHead(statusCode, responseHeaders(headers));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.res.end();
    this.onDone?.(this.status >= 500);
  }

  onResponseError(_c: Dispatcher.DispatchController | undefined, err: Error): void {
    this.onDone?.(true);
    if (!this.clientGone) this.onFail(err);
  }
}

function classify(err: unknown, timeoutMs: number): { key: ErrorKey; reason: string; text: string } {
  const e = err as { code?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code ?? '';
  if (err instanceof BodyTooLargeError) return { key: 'BODY_TOO_LARGE', reason: 'too_large', text: '' };
  switch (code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return { key: 'UPSTREAM_TIMEOUT', reason: 'timeout', text: `no answer within ${timeoutMs / 1000}s` };
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return { key: 'UPSTREAM_TIMEOUT', reason: 'timeout', text: 'connect timed out' };
    case 'ECONNREFUSED':
      return { key: 'UPSTREAM_REFUSED', reason: 'refused', text: 'connection refused' };
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return { key: 'UPSTREAM_REFUSED', reason: 'reset', text: 'connection reset' };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { key: 'UPSTREAM_REFUSED', reason: 'refused', text: `host not found (${code})` };
    default:
      return { key: 'UPSTREAM_FAILED', reason: 'failed', text: `${code ? `${code}: ` : ''}${e.message ?? String(err)}` };
  }
}

/** Request headers for the backend, as undici's flat [name, value, ...] list. */
function forwardHeaders(req: IncomingMessage): string[] {
  const raw = req.rawHeaders;
  const listed = connectionListed(req.headers.connection);
  const out: string[] = [];
  let xff: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (isHopByHop(lower, listed)) continue;
    if (lower === 'x-forwarded-for') {
      xff = xff === undefined ? raw[i + 1]! : `${xff}, ${raw[i + 1]!}`;
      continue;
    }
    if (lower === 'x-forwarded-proto' || lower === 'x-forwarded-host') continue;
    out.push(name, raw[i + 1]!);
  }
  const client = req.socket.remoteAddress ?? '';
  out.push('x-forwarded-for', xff === undefined ? client : `${xff}, ${client}`);
  out.push('x-forwarded-proto', 'encrypted' in req.socket ? 'https' : 'http');
  if (req.headers.host !== undefined) out.push('x-forwarded-host', req.headers.host);
  return out;
}

function responseHeaders(h: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const listed = connectionListed(h['connection']);
  const out: Record<string, string | string[]> = {};
  for (const name in h) {
    const v = h[name];
    if (v === undefined || isHopByHop(name, listed)) continue;
    out[name] = v;
  }
  return out;
}

function limitBody(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (seen > max) cb(new BodyTooLargeError(`request body exceeds ${max} bytes`));
      else cb(null, chunk);
    },
  });
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
