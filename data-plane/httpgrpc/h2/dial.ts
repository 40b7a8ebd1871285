// Opens the socket for an H2Connection: TCP for h2c (prior knowledge, RFC 9113 3.3), or TLS with ALPN
// "h2" (3.2); a TLS server that does not select h2 cannot speak to us (9.2: HTTP/2 over TLS needs ALPN).
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ClientSession, DialTarget, SessionEvents } from '../client-session.js';
import { H2Connection } from './connection.js';

export function dialSocket(target: DialTarget, events: SessionEvents): ClientSession {
  if (target.tls === undefined) {
    return new H2Connection(tcpConnect({ host: target.host, port: target.port }), target, events);
  }
  const socket = tlsConnect({ ...target.tls, host: target.host, port: target.port, ALPNProtocols: ['h2'] });
  const conn = new H2Connection(socket, target, events);
  socket.once('secureConnect', () => {
    if (socket.alpnProtocol !== 'h2') conn.destroy(`the server did not negotiate h2 over TLS (ALPN: ${String(socket.alpnProtocol)})`);
  });
  return conn;
}
