// For scenario tls: does offering h2 in ALPN make the HTTP/1.1 path dearer? The same trivial handler
// (read the body, answer 200) behind the gateway's TLS layer (core/tls-termination.ts, ALPN http/1.1)
// or behind node:http2's secure server with allowHTTP1 (ALPN h2, http/1.1: what offering h2 takes),
// both loaded by the same HTTP/1.1 client.   node dist/bench/alpn-server.js <port> <h1|h2> <cert> <key>

import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import { createSecureContext } from 'node:tls';
import { pino } from 'pino';
import { TlsTermination } from '../core/tls-termination.js';

const [port, mode, certPath, keyPath] = process.argv.slice(2);
if (!port || (mode !== 'h1' && mode !== 'h2') || !certPath || !keyPath) {
  process.stderr.write('usage: alpn-server.js <port> <h1|h2> <cert> <key>\n');
  process.exit(2);
}
const cert = readFileSync(certPath);
const key = readFileSync(keyPath);
const handler = (req: IncomingMessage | http2.Http2ServerRequest, res: ServerResponse | http2.Http2ServerResponse): void => {
  req.on('data', () => undefined);
  req.on('end', () => res.end('ok'));
};
let listener: { listen(port: number, host: string): unknown; close(): unknown };
if (mode === 'h1') {
  const server = http.createServer({ keepAliveTimeout: 120_000 }, handler);
  const tls = new TlsTermination(createSecureContext({ cert, key }), { clientAuth: 'NoClientCert', alpnProtocols: ['http/1.1'], handshakeTimeoutMs: 10_000, logger: pino({ level: 'warn' }), name: 'alpn h1' });
  listener = tls.serve(server);
} else {
  listener = http2.createSecureServer({ cert, key, allowHTTP1: true, ALPNProtocols: ['h2', 'http/1.1'] }, handler);
}
listener.listen(Number(port), '127.0.0.1');
process.once('SIGTERM', () => {
  listener.close();
  process.exit(0);
});
