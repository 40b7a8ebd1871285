// A gRPC server written on node:http2 by hand, for protocol tests that need control a grpc-js server
// does not give: SETTINGS, GOAWAY with a chosen last-stream-id, Trailers-Only answers, TLS with ALPN.
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { decodeRequest, encodeResponse, type HttpGrpcRequestMessage } from '../../data-plane/httpgrpc/codec.js';

export interface RawGrpcServer {
  readonly endpoint: { address: string; port: number };
  readonly server: http2.Http2Server | http2.Http2SecureServer;
  /** Streams opened by the client, and HTTP/2 sessions (connections) it made. */
  streams(): number;
  sessions(): number;
  close(): Promise<void>;
}

/** Read the whole gRPC request message of a stream and decode the HTTPRequest inside. */
export function readHttpRequest(stream: http2.ServerHttp2Stream): Promise<HttpGrpcRequestMessage & { body: Buffer }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      try {
        resolve(decodeRequest(Buffer.concat(chunks).subarray(5)));
      } catch (e) {
        reject(e as Error);
      }
    });
    stream.on('error', reject);
  });
}

/** Answer a stream with status OK and an HTTPResponse, status in the trailers. */
export function replyOk(stream: http2.ServerHttp2Stream, body: string | Buffer = 'ok', code = 200): void {
  if (stream.destroyed) return;
  const message = encodeResponse({ code, headers: [], body: Buffer.from(body) });
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  stream.end(Buffer.concat([prefix, message]));
}

/** Answer with a Trailers-Only response: one HEADERS frame with END_STREAM carrying the status. */
export function replyTrailersOnly(stream: http2.ServerHttp2Stream, status: Record<string, string>): void {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...status }, { endStream: true });
}

export async function startRawGrpcServer(
  host: string,
  onStream: (s: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void,
  opts: { settings?: http2.Settings; tls?: { key: Buffer; cert: Buffer } } = {},
): Promise<RawGrpcServer> {
  let streams = 0;
  let sessions = 0;
  const server = opts.tls
    ? http2.createSecureServer({ ...opts.tls, allowHTTP1: false, ...(opts.settings ? { settings: opts.settings } : {}) })
    : http2.createServer(opts.settings ? { settings: opts.settings } : {});
  const open = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions++;
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => undefined);
  });
  server.on('stream', (s, headers) => {
    streams++;
    s.on('error', () => undefined);
    onStream(s, headers);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    endpoint: { address: host, port: (server.address() as AddressInfo).port },
    server,
    streams: () => streams,
    sessions: () => sessions,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
